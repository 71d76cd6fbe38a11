#!/usr/bin/python3
"""An NVR's ONVIF client for the lab: zeep (Debian's python3-zeep) with
its WS-Security UsernameToken plugin, as ONVIF clients written in Python
use it, calling the device service of a camera through a WSDL that
describes only the two operations asked, GetSystemDateAndTime and
GetDeviceInformation (ONVIF's devicemgmt.wsdl describes them the same
way, with SOAP 1.2).

Usage: onvif-client.py ADDRESS PORT USER digest|text OPERATION
The password is read from the environment variable ONVIF_PASSWORD. Exits
0 when the camera answers, 3 on a SOAP fault (a refused login).
"""

import os
import sys
import tempfile

import zeep
import zeep.exceptions
from zeep.wsse.username import UsernameToken

WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
    targetNamespace="http://www.onvif.org/ver10/device/wsdl">
  <wsdl:types>
    <xs:schema targetNamespace="http://www.onvif.org/ver10/device/wsdl" elementFormDefault="qualified">
      <xs:element name="GetSystemDateAndTime"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="GetSystemDateAndTimeResponse"><xs:complexType><xs:sequence>
        <xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="GetDeviceInformation"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="GetDeviceInformationResponse"><xs:complexType><xs:sequence>
        <xs:element name="Manufacturer" type="xs:string"/>
        <xs:element name="Model" type="xs:string"/>
        <xs:element name="FirmwareVersion" type="xs:string"/>
        <xs:element name="SerialNumber" type="xs:string"/>
        <xs:element name="HardwareId" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="GetSystemDateAndTimeRequest"><wsdl:part name="parameters" element="tds:GetSystemDateAndTime"/></wsdl:message>
  <wsdl:message name="GetSystemDateAndTimeResponse"><wsdl:part name="parameters" element="tds:GetSystemDateAndTimeResponse"/></wsdl:message>
  <wsdl:message name="GetDeviceInformationRequest"><wsdl:part name="parameters" element="tds:GetDeviceInformation"/></wsdl:message>
  <wsdl:message name="GetDeviceInformationResponse"><wsdl:part name="parameters" element="tds:GetDeviceInformationResponse"/></wsdl:message>
  <wsdl:portType name="Device">
    <wsdl:operation name="GetSystemDateAndTime">
      <wsdl:input message="tds:GetSystemDateAndTimeRequest"/><wsdl:output message="tds:GetSystemDateAndTimeResponse"/>
    </wsdl:operation>
    <wsdl:operation name="GetDeviceInformation">
      <wsdl:input message="tds:GetDeviceInformationRequest"/><wsdl:output message="tds:GetDeviceInformationResponse"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="DeviceBinding" type="tds:Device">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="GetSystemDateAndTime">
      <soap12:operation soapAction="http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output>
    </wsdl:operation>
    <wsdl:operation name="GetDeviceInformation">
      <soap12:operation soapAction="http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="DeviceService">
    <wsdl:port name="DevicePort" binding="tds:DeviceBinding">
      <soap12:address location="http://localhost/onvif/device_service"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def main():
    if len(sys.argv) != 6 or sys.argv[4] not in ("digest", "text"):
        sys.exit(__doc__)
    address, port, user, kind, operation = sys.argv[1:]
    token = UsernameToken(user, os.environ["ONVIF_PASSWORD"], use_digest=kind == "digest")
    with tempfile.NamedTemporaryFile("w", suffix=".wsdl") as wsdl:
        wsdl.write(WSDL)
        wsdl.flush()
        client = zeep.Client(wsdl.name, wsse=token)
        service = client.create_service(
            "{http://www.onvif.org/ver10/device/wsdl}DeviceBinding",
            f"http://{address}:{port}/onvif/device_service",
        )
        try:
            answer = getattr(service, operation)()
        except zeep.exceptions.Fault as fault:
            print(f"fault: {fault.message}", file=sys.stderr)
            sys.exit(3)
    if operation == "GetDeviceInformation":
        print(answer.Manufacturer, answer.Model, answer.FirmwareVersion)


if __name__ == "__main__":
    main()
