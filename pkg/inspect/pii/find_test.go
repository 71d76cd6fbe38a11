package pii

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// found is one expected match: kind and the canonical field ("" for
// free text).
type found struct {
	kind  string
	field string
}

func (s *finder) results(b []byte, cut inspect.Cut) []found {
	return s.resultsOf(b, cut, false)
}

func (s *finder) resultsOf(b []byte, cut inspect.Cut, form bool) []found {
	return s.resultsWith(b, cut, form, true)
}

// resultsWith is resultsOf with or without device identifiers (ids).
func (s *finder) resultsWith(b []byte, cut inspect.Cut, form, ids bool) []found {
	var out []found
	for _, m := range s.find(b, cut, form, ids, false) {
		f := found{kind: m.kind.String()}
		if m.label >= 0 {
			f.field = s.labels.labels[m.label].field
		}
		out = append(out, f)
	}
	return out
}

// TestFindTasmotaCommand: a Tasmota command as the MQTT analyzer hands
// it on (inspect.WhereMQTTCommand), the command and its payload: the
// keys and passwords it sets, and the values that set none.
func TestFindTasmotaCommand(t *testing.T) {
	wifi := []found{{"wifi_credentials", "password"}}
	device := []found{{"device_password", "password"}}
	tests := []struct {
		name string
		in   string
		want []found
	}{
		{"backlog", "Backlog SSID1 MyHome; Password1 secret123", wifi},
		{"backlog0_any_case", "backlog0 ssid2 Cafe Net;password2 espresso-2024 ;Restart 1", wifi},
		{"key_command", "Password1 secret123", wifi},
		{"key_command_upper_case", "PASSWORD2 secret123", wifi},
		{"key_command_without_index", "Password secret123", wifi},
		{"backlog_without_indexes", "Backlog SSId MyHome; Password secret123", wifi},
		{"key_of_another_network_than_the_indexless_name", "Backlog SSId MyHome; Password2 secret123", nil},
		{"key_with_spaces_and_semicolon", "Password1 correct horse; battery", wifi},
		{"web_password", "WebPassword s3cret", device},
		{"web_password_short", "webpassword 1234", device},
		{"mqtt_password", "MqttPassword brokerPw", device},
		{"backlog_of_both", "Backlog SSID1 MyHome; Password1 secret123; MqttPassword brokerPw", []found{{"device_password", "password"}, {"wifi_credentials", "password"}}},
		{"email_in_a_command", "MqttUser alice@example.com", []found{{"email", ""}}},

		{"power", "Power ON", nil},
		{"backlog_without_password", "Backlog SSID1 MyHome; Power ON", nil},
		{"key_empty", "Password1 ", nil},
		{"key_query", "Password1", nil},
		{"key_mask", "Password1 ****", nil},
		{"key_mask_in_backlog", "Backlog SSID1 MyHome; Password1 ********", nil},
		{"key_quote_placeholder", `Password1 "`, nil},
		{"key_firmware_default", "Password1 1", nil},
		{"key_too_short_for_wpa", "Password1 secret", nil},
		{"web_password_cleared", "WebPassword 0", nil},
		{"web_password_default", "WebPassword 1", nil},
		{"web_password_quote_placeholder", `WebPassword "`, nil},
		{"web_password_mask", "WebPassword ****", nil},
		{"web_password_query", "WebPassword", nil},
		{"mqtt_password_placeholder", "Backlog MqttUser plug; MqttPassword <hidden>", nil},
		{"ssid_alone", "SSID1 MyHome", nil},
		{"third_network", "Password3 secret123", nil},
		{"name_runs_into_value", "Password1secret123", nil},
		{"backlog_key_of_another_network", "Backlog SSID1 MyHome; Password2 secret123", nil},
	}
	s := newFinder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []found
			for _, m := range s.find([]byte(tt.in), 0, false, true, true) {
				f := found{kind: m.kind.String()}
				if m.label >= 0 {
					f.field = s.labels.labels[m.label].field
				}
				got = append(got, f)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("find(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestFindFormValues: in a decoded query or form a value runs to the
// next "&", spaces and all; elsewhere a bare value after "=" ends at a
// space ("lat=52.5200 lon=13.4050" in a device's text log).
func TestFindFormValues(t *testing.T) {
	tests := []struct {
		name string
		in   string
		form bool
		want []found
	}{
		{"phone_with_spaces", "id=7&phone=0171 555 1234&x=1", true, []found{{"phone", "phone"}}},
		{"phone_with_spaces_not_form", "id=7 phone=0171 555 1234 x=1", false, nil},
		{"value_ends_at_ampersand", "phone=0171 555 1234&serial=0171", true, []found{{"phone", "phone"}}},
		{"value_empty", "phone=&lat=1", true, nil},
		{"value_spaces_only", "phone=   &lat=1", true, nil},
		{"key_value_pairs_of_text", "lat=52.5200 lon=13.4050", false, []found{{"location", "lat"}}},

		// Wi-Fi setup pages: their short field names count on their own
		// paths only (the HTTP analyzer puts a form's path before it).
		{"wifimanager_form", "/wifisave?s=HomeNet&p=hunter2hunter2", true, []found{{"wifi_credentials", "p"}}},
		{"wifimanager_absolute_form", "http://192.168.4.1/wifisave?s=Home Net&p=correct horse", true, []found{{"wifi_credentials", "p"}}},
		{"tasmota_wifi_form", "/wi?s1=HomeNet&p1=hunter2hunter2&s2=&p2=****&h=tasmota-1234&c=&save=", true, []found{{"wifi_credentials", "p1"}}},
		{"tasmota_second_network", "/wi?s1=HomeNet&p1=****&s2=Cafe&p2=espresso-2024&save=", true, []found{{"wifi_credentials", "p2"}}},
		{"tasmota_backlog", "/cm?cmnd=Backlog SSId1 HomeNet;Password1 hunter2hunter2", true, []found{{"wifi_credentials", "password"}}},
		{"tasmota_backlog_in_console", "/cs?c2=7&c1=Backlog0 ssid2 Cafe Net; password2 espresso-2024 ;Restart 1", true, []found{{"wifi_credentials", "password"}}},
		{"short_fields_elsewhere", "s=HomeNet&p=hunter2hunter2", true, nil},
		{"short_fields_on_another_path", "/search?s=HomeNet&p=hunter2hunter2", true, nil},
		{"wifimanager_path_not_a_form", "/wifisave?s=HomeNet&p=hunter2hunter2", false, nil},
		{"tasmota_fields_on_wifimanager_path", "/wifisave?s1=HomeNet&p1=hunter2hunter2", true, nil},
		{"tasmota_form_key_unchanged", "/wi?s1=HomeNet&p1=****&save=", true, nil},
		{"tasmota_backlog_without_key", "/cm?cmnd=Backlog SSId1 HomeNet; Power ON", true, nil},
		{"tasmota_backlog_keys_of_two_networks", "/cm?cmnd=Backlog SSId1 HomeNet; Password2 hunter2hunter2", true, nil},
		{"tasmota_backlog_beside_web_login", "/cm?user=admin&password=hunter2hunter2&cmnd=Backlog SSId1 HomeNet", true, nil},
		{"tasmota_console_field_elsewhere", "/cm?c1=Backlog SSId1 HomeNet;Password1 hunter2hunter2", true, nil},
		// A single command says by its name what it sets.
		{"tasmota_single_key_command", "/cm?cmnd=Password1 hunter2hunter2", true, []found{{"wifi_credentials", "password"}}},
		{"tasmota_web_password_command", "/cm?cmnd=WebPassword adminpass", true, []found{{"device_password", "password"}}},
		{"tasmota_web_password_in_backlog", "/cs?c1=Backlog WebPassword adminpass; Restart 1", true, []found{{"device_password", "password"}}},
		{"tasmota_key_command_masked", "/cm?cmnd=Password1 ****", true, nil},
	}
	s := newFinder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.resultsOf([]byte(tt.in), 0, tt.form); !slices.Equal(got, tt.want) {
				t.Errorf("find(%q, form %v) = %v, want %v", tt.in, tt.form, got, tt.want)
			}
		})
	}
}

func TestFindPositive(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []found
	}{
		{"email_json", `{"email":"alice.smith@example.com","temp":21.5}`, []found{{"email", "email"}}},
		{"email_free_text", `contact alice@example.co.uk for details`, []found{{"email", ""}}},
		{"email_camel_key", `{"userEmail":"bob+iot@mail.example.org"}`, []found{{"email", "email"}}},
		{"email_urlencoded_form", `user=alice%40example.com&pw=x`, []found{{"email", "user"}}},
		{"email_json_escaped_at", `{"owner":"judy\u0040example.com","note":"a\\b\n"}`, []found{{"email", ""}}},
		{"email_mailto", `<a href="mailto:carol@example.net">`, []found{{"email", ""}}},
		{"email_in_name_field", `{"from":"Alice <alice@example.com>"}`, []found{{"email", ""}}},
		{"email_sentence_end", `write to dave@example.com.`, []found{{"email", ""}}},
		{"yaml_block_under_an_ignored_key", "version: 2\nbuild:\n  owner: kim@example.com\n  phone: +49 30 1234567\n", []found{{"email", ""}, {"phone", ""}}},
		{"email_after_folded_ids", "References: <CAKx8+Y3q@mail.example.com>\r\n <CAJw2=Zp@mail.example.org>\r\nTo: Ivan\r\n <ivan@example.com>\r\n", []found{{"email", ""}}},
		// Two under one label are one finding of the flow: one match.
		{"email_after_label_colon", `owner email:erin@example.org; E-Mail:frank@example.net`, []found{{"email", "email"}}},
		{"email_login_id", `{"loginId":"grace@example.com","userId":"heidi@example.org"}`, []found{{"email", "login_id"}, {"email", "user_id"}}},
		{"phone_e164_free", `call +49 30 1234567 now`, []found{{"phone", ""}}},
		{"phone_e164_trunk", `tel +49 (0)30 12345678`, []found{{"phone", ""}}},
		{"phone_e164_three_digit_code", `call +216 71 123 456`, []found{{"phone", ""}}},
		{"phone_e164_nanp_grouped", `call +1 415 555 2671`, []found{{"phone", ""}}},
		{"phone_after_equals_unspaced", "caller=+4930123456 ok", []found{{"phone", ""}}},
		{"phone_labelled_slashes", `{"phone":"030/1234567"}`, []found{{"phone", "phone"}}},
		{"phone_labelled_dots", `{"phone":"415.555.2671"}`, []found{{"phone", "phone"}}},
		{"phone_labelled_dots_in_pairs", `{"tel":"01.23.45.67.89"}`, []found{{"phone", "tel"}}},
		{"phone_labelled_groups_not_a_date", `{"phone":"12-34-5678"}`, []found{{"phone", "phone"}}},
		{"phone_labelled_national", `{"phone":"0301234567"}`, []found{{"phone", "phone"}}},
		{"phone_labelled_number", `{"phoneNumber":5551234567}`, []found{{"phone", "phone_number"}}},
		{"phone_labelled_dashes", `mobile=0171-555-1234`, []found{{"phone", "mobile"}}},
		{"phone_labelled_e164", `{"tel":"+14155552671"}`, []found{{"phone", "tel"}}},
		{"phone_header", "X-Contact-Phone: +44 20 7946 0958\r\n", []found{{"phone", "phone"}}},
		{"location_json_pair", `{"lat":52.5200,"lon":13.4050,"alt":34}`, []found{{"location", "lat"}}},
		{"location_strings", `{"latitude":"-33.86882","longitude":"151.20930"}`, []found{{"location", "latitude"}}},
		{"location_query", `GET /report?lat=48.85837&lng=2.29448 HTTP/1.1`, []found{{"location", "lat"}}},
		{"location_nested_keys", `{"gps":{"gps_lat":40.7128,"gps_long":-74.0060}}`, []found{{"location", "lat"}}},
		{"location_labelled_pair", `{"location":"52.5200,13.4050"}`, []found{{"location", "location"}}},
		{"location_geojson", `{"type":"Point","coordinates":[13.4050, 52.5200]}`, []found{{"location", "coordinates"}}},
		{"location_xml", `<pos><lat>51.50735</lat><lon>-0.12776</lon></pos>`, []found{{"location", "lat"}}},
		{"location_on_equator", `{"lat":0.0000,"lon":32.5825}`, []found{{"location", "lat"}}},
		{"location_near_greenwich", `{"lat":51.4779,"lon":-0.0015}`, []found{{"location", "lat"}}},
		{"location_place_prefixed_keys", `{"homeLat":52.5200,"home_lng":13.4050}`, []found{{"location", "lat"}}},
		// A fix of up to 7 decimals printed without its trailing zeros
		// (JavaScript, Python, %g): 13.3770000 is written "13.377".
		{"location_zeros_dropped_lon", `{"lat":52.5162745,"lon":13.377}`, []found{{"location", "lat"}}},
		{"location_zeros_dropped_lat", `{"latitude":"48.86","longitude":"2.294481"}`, []found{{"location", "latitude"}}},
		{"location_zeros_dropped_query", `GET /t?id=7&lat=52.51627&lng=13.377 HTTP/1.1`, []found{{"location", "lat"}}},
		{"location_zeros_dropped_pair", `{"location":"52.5162745,13.377"}`, []found{{"location", "location"}}},
		{"location_zeros_dropped_geojson", `{"coordinates":[13.37, 52.516275]}`, []found{{"location", "coordinates"}}},
		{"nmea_gga", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n", []found{{"nmea", ""}}},
		{"nmea_rmc", "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n", []found{{"nmea", ""}}},
		{"nmea_gngga", "x $GNGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*68", []found{{"nmea", ""}}},
		{"card_visa", `{"card":"4111111111111111"}`, []found{{"card", "card"}}},
		{"card_spaces", `pay 4111 1111 1111 1111 now`, []found{{"card", ""}}},
		{"card_dashes", `cc=5555-5555-5555-4444`, []found{{"card", ""}}},
		{"card_amex_grouped", `amex 3782 822463 10005.`, []found{{"card", ""}}},
		{"card_mastercard_2series", `{"pan":"2223000048400011"}`, []found{{"card", "pan"}}},
		{"card_in_payment_form", `number=6011111111111117&exp_month=12&exp_year=2027&cvc=123`, []found{{"card", ""}}},
		{"card_in_json_payment_form", `{"number":"4111111111111111","cvc":"123"}`, []found{{"card", ""}}},
		{"card_key_names_payment", `{"cc_no":"4111111111111111"}`, []found{{"card", ""}}},
		{"card_number_key_names_payment", `{"cardNo":5555555555554444}`, []found{{"card", ""}}},
		{"card_dashes_after_payment", `card no. 4111-1111-1111-1111`, []found{{"card", ""}}},
		{"imei_labelled", `{"imei":"490154203237518"}`, []found{{"imei", "imei"}}},
		{"imei_header", "IMEI: 35-209900-176148-1\r\n", []found{{"imei", "imei"}}},
		{"imei_device_id", `{"deviceId":"352099001761481"}`, []found{{"imei", "device_id"}}},
		// TK103-style GPS trackers: "key:value" records, comma-separated,
		// at the start of a line as often as after a "##,".
		{"imei_tk103_login", "##,imei:490154203237518,A;", []found{{"imei", "imei"}}},
		{"imei_tk103_report", "imei:490154203237518,tracker,151006012336,,F,172337.000,A,5105.9792,N,11404.9599,W,0.00,0;", []found{{"imei", "imei"}}},
		{"imei_tk103_second_line", "LOAD\nimei:490154203237518,help me,1510060123,,F,;", []found{{"imei", "imei"}}},
		{"imei_compact_header", "X-IMEI:490154203237518\r\n", []found{{"imei", "imei"}}},
		{"mac_labelled", `{"mac":"a4:cf:12:9b:3e:01"}`, []found{{"mac", "mac"}}},
		{"mac_dashes_macaddress", `macAddress=A4-CF-12-9B-3E-01`, []found{{"mac", "mac_address"}}},
		{"mac_plain_hex", `{"wifi_mac":"a4cf129b3e01"}`, []found{{"mac", "mac"}}},
		{"mac_locally_administered", `{"mac":"da:a1:19:4e:7c:02"}`, []found{{"mac", "mac"}}},
		{"mac_upper_case_dots", `{"mac":"A4CF.129B.3E01"}`, []found{{"mac", "mac"}}},
		{"serial_labelled", `{"serialNumber":"SN12345678X"}`, []found{{"serial", "serial_number"}}},
		{"serial_sn", `sn=FX0023A7781&fw=1.2.3`, []found{{"serial", "sn"}}},
		{"serial_device_id_mac", `{"device_id":"24:0a:c4:11:22:33"}`, []found{{"mac", "device_id"}}},
		{"serial_twelve_digits", `{"model":"CAM-200","serialNumber":"201904123456"}`, []found{{"serial", "serial_number"}}},
		{"serial_twelve_hex", `{"serial":"A1B2C3D4E5F6"}`, []found{{"serial", "serial"}}},
		{"serial_six_mixed", `{"sn":"A7X2K9"}`, []found{{"serial", "sn"}}},
		{"serial_eight_digits", `{"sn":"80471123"}`, []found{{"serial", "sn"}}},
		{"serial_in_header", "X-Serial: 20190412345\r\n", []found{{"serial", "serial"}}},
		{"imei_as_json_number", `{"serial":490154203237518}`, []found{{"imei", "serial"}}},
		{"wifi_psk", `{"ssid":"HomeNet","psk":"correct horse battery"}`, []found{{"wifi_credentials", "psk"}}},
		{"wifi_password_with_ssid", `ssid=HomeNet&password=hunter2hunter2`, []found{{"wifi_credentials", "password"}}},
		{"wifi_passphrase_xml", `<wifi><ssid>Home</ssid><passphrase>s3cretpass</passphrase></wifi>`, []found{{"wifi_credentials", "passphrase"}}},
		{"name_with_email", `{"first_name":"Alice","last_name":"Smith","email":"alice@example.com"}`,
			[]found{{"email", "email"}, {"name", "first_name"}, {"name", "last_name"}}},
		{"name_first_last", `{"firstName":"Jürgen","lastName":"Müller"}`, []found{{"name", "first_name"}, {"name", "last_name"}}},
		{"name_generic_with_phone", `{"name":"Alice Smith","phone":"+4930123456"}`, []found{{"phone", "phone"}, {"name", "name"}}},
		{"address_street", `{"street":"Hauptstraße 5","postcode":"10115","city":"Berlin"}`, []found{{"address", "street"}}},
		{"address_line", `{"address":"1600 Amphitheatre Parkway, Mountain View"}`, []found{{"address", "address"}}},
		{"address_billing", `{"billingAddress":"221B Baker Street, London NW1 6XE"}`, []found{{"address", "billing_address"}}},
		{"address_flat_and_street", `{"address_line1":"Flat 3B, 12-14 Rue de l'Église"}`, []found{{"address", "address_line1"}}},
		{"address_supports_name", `{"full_name":"Alice Smith","zip":"10115","city":"Berlin"}`, []found{{"name", "full_name"}}},
		{"postcode_and_city_support_their_object", `{"owner":{"name":"Alice Smith","zip":"10115","city":"Berlin"},"devices":[{"name":"Jane Doe"}]}`,
			[]found{{"name", "name"}}},
		{"appliance_names_beside_contacts", `[{"name":"Ceiling Fan","email":"alice@example.com"},{"name":"Coffee Maker","phone":"+4930123456"}]`,
			[]found{{"email", "email"}, {"phone", "phone"}}},
		{"surname_that_names_a_thing", `{"first_name":"Bingbing","last_name":"Fan"}`, []found{{"name", "first_name"}, {"name", "last_name"}}},
		{"exif_gps", `{"GPSLatitude":52.520008,"GPSLongitude":13.404954}`, []found{{"location", "latitude"}}},
		{"phone_in_contact", `{"contact":"+49 30 1234567"}`, []found{{"phone", ""}}},
		// The account's address supports no room or home of its list.
		{"email_supports_only_its_object", `{"email":"alice@example.com","homes":[{"name":"My Home","rooms":[{"name":"Living Room"}]}]}`,
			[]found{{"email", "email"}}},
		{"nmea_gll", "$GPGLL,4916.45,N,12311.12,W,225444,A,*1D\r\n", []found{{"nmea", ""}}},
		{"device_and_owner_email", `{"name":"Front Door Camera","owner_email":"alice@example.com"}`, []found{{"email", "email"}}},
		{"wifi_key_in_wifi_object", `{"wifi":{"ssid":"HomeNet","password":"hunter2hunter2"},"mqtt":{"password":"x"}}`, []found{{"wifi_credentials", "password"}}},
		{"email_in_path", `/api/v1/users/alice.smith@example.com/devices`, []found{{"email", ""}}},
		{"email_in_parentheses_after_a_version", `firmware 2.1 (alice@example.com)`, []found{{"email", ""}}},
		{"email_after_a_kernel_banner", "Linux version 4.9.37 (build@fw-ci.vendor.com) #1 SMP owner alice@example.com", []found{{"email", ""}}},
		{"phone_in_contact_cell", `{"name":"x","cell":"5551234567"}`, []found{{"phone", "cell"}}},
		{"card_spaces_labelled", `{"card":"4111 1111 1111 1111"}`, []found{{"card", "card"}}},
		{"card_spaces_after_payment", `payment 4111 1111 1111 1111`, []found{{"card", ""}}},
		{"wifi_prefixed_pair", `{"sta_ssid":"HomeNet","sta_password":"hunter2hunter2"}`, []found{{"wifi_credentials", "password"}}},
		{"wifi_key_holding_a_mask_word", `{"ssid":"HomeNet","password":"HiddenValley42"}`, []found{{"wifi_credentials", "password"}}},
		{"wifi_key_of_mask_words_and_digits", `{"ssid":"HomeNet","psk":"Null-Island-7"}`, []found{{"wifi_credentials", "psk"}}},
		{"wifi_key_of_two_words", `{"ssid":"HomeNet","psk":"hidden valley"}`, []found{{"wifi_credentials", "psk"}}},
		{"wifi_key_in_brackets", `{"ssid":"HomeNet","psk":"<MyPass123>"}`, []found{{"wifi_credentials", "psk"}}},
		{"location_position_string", `{"position":"52.516275,13.377704"}`, []found{{"location", "position"}}},
		{"name_with_a_thing_surname", `{"name":"Alice Light","email":"alice@example.com"}`, []found{{"email", "email"}, {"name", "name"}}},
		// JSON sent as a JSON string's value.
		{"escaped_json_wifi", `{"data":"{\"ssid\":\"HomeNet\",\"password\":\"hunter2hunter2\"}"}`, []found{{"wifi_credentials", "password"}}},
		{"escaped_json_phone", `{"data":"{\"phone\":\"0301234567\"}"}`, []found{{"phone", "phone"}}},
		{"escaped_json_imei", `{"data":"{\"imei\":\"490154203237518\"}"}`, []found{{"imei", "imei"}}},
		{"escaped_json_location", `{"data":"{\"lat\":\"52.520008\",\"lon\":\"13.404954\"}"}`, []found{{"location", "lat"}}},
		{"escaped_json_after_an_inner_quote", `{"data":"{\"note\":\"say \\\"hi\\\"\",\"phone\":\"0301234567\"}"}`, []found{{"phone", "phone"}}},
		{"email_supports_its_object", `{"users":[{"name":"Alice Smith","email":"alice@example.com"}],"rooms":[{"name":"Living Room"}]}`,
			[]found{{"email", "email"}, {"name", "name"}}},
		// A tracker's position as its GNSS module printed it, under a
		// label of a position: the sentence proves itself.
		{"nmea_under_gps", `{"id":"trk-7","gps":"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"}`, []found{{"nmea", "gps"}}},
		{"nmea_under_location_xml", "<location>$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A</location>", []found{{"nmea", "location"}}},
		{"nmea_under_position_in_a_log_line", "id=7 position=$GPGLL,4916.45,N,12311.12,W,225444,A,*1D", []found{{"nmea", "position"}}},
		// Mail libraries and contact formats name a mailbox "address"
		// (Nodemailer's and JSContact's {"name":…,"address":…}).
		{"email_under_address", `{"from":{"name":"Alice Smith","address":"alice@example.com"},"subject":"Door opened"}`,
			[]found{{"email", "address"}, {"name", "name"}}},
		{"email_under_address_xml", "<recipient><address>alice@example.com</address></recipient>", []found{{"email", "address"}}},
		// Provisioning payloads that spell the key "passwd" (Tuya's AP
		// mode, {"ssid":…,"passwd":…,"token":…}) or "wifi_pwd".
		{"wifi_passwd_beside_ssid", `{"ssid":"HomeNet","passwd":"hunter2hunter2","token":"AYx1"}`, []found{{"wifi_credentials", "passwd"}}},
		{"wifi_passwd_form", `ssid=HomeNet&passwd=hunter2hunter2`, []found{{"wifi_credentials", "passwd"}}},
		{"wifi_pwd_key", `{"wifi_ssid":"HomeNet","wifi_pwd":"hunter2hunter2"}`, []found{{"wifi_credentials", "wifi_pwd"}}},
		{"wifi_pwd_camel_key", `{"wifiSsid":"HomeNet","wifiPwd":"hunter2hunter2"}`, []found{{"wifi_credentials", "wifi_pwd"}}},
		{"wifi_passwd_key", `{"wifi_ssid":"HomeNet","wifi_passwd":"hunter2hunter2"}`, []found{{"wifi_credentials", "wifi_passwd"}}},
		// ESP firmware names the network it joins as a station "sta".
		{"wifi_sta_pass", `{"sta_ssid":"HomeNet","sta_pass":"hunter2hunter2"}`, []found{{"wifi_credentials", "sta_pass"}}},
		{"wifi_sta_pwd", `{"sta_ssid":"HomeNet","sta_pwd":"hunter2hunter2"}`, []found{{"wifi_credentials", "sta_pwd"}}},
		{"wifi_sta_pwd_camel", `{"staSsid":"HomeNet","staPwd":"hunter2hunter2"}`, []found{{"wifi_credentials", "sta_pwd"}}},
		{"wifi_sta_pass_form", `ssid=HomeNet&sta_pass=hunter2hunter2`, []found{{"wifi_credentials", "sta_pass"}}},
		{"wifi_sta_pass_dotted", `wifi.sta.ssid=HomeNet&wifi.sta.pass=hunter2hunter2`, []found{{"wifi_credentials", "sta_pass"}}},
		// A hex word shorter than a MAC is a person's mailbox still.
		{"email_with_a_short_hex_word", `{"email":"bob.cafe42@example.com"}`, []found{{"email", "email"}}},
		{"email_with_twelve_digits", `sms 491511234567@sms.example.net`, []found{{"email", ""}}},
	}
	s := newFinder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.results([]byte(tt.in), 0)
			if !slices.Equal(got, tt.want) {
				t.Errorf("find(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFindNegative(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"version_string", `{"fw":"1.2.3.4","version":"4.111.1111.1111"}`},
		{"timestamp_ms", `{"t":1700000000123,"uptime":1234567890123}`},
		{"timestamp_us_ns", `ts=1700000000123456 at 1700000000123456789`},
		{"uuid", `{"device":"123e4567-e89b-12d3-a456-426614174000"}`},
		{"hex_hash", `sha=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`},
		{"image_2x", `<img src="/static/logo@2x.png"> icon@3x.webp`},
		{"npm_package_version", `"dependencies":"lodash@4.17.21"`},
		{"user_localhost", `login user@localhost ok`},
		{"url_userinfo", `GET http://admin:secret@cam.example.com/live`},
		{"url_user_only", `ftp://anonymous@ftp.example.org/pub`},
		{"userinfo_after_gmail_word", `gmail:secret@imap.example.com`},
		{"numeric_user_id", `{"userId":12345678,"accountId":"a1b2c3"}`},
		{"message_id", "Message-ID: <CAB1234567@mail.example.com>\r\n"},
		{"message_ids_folded", "Message-ID:\r\n <CAB1234567@mail.example.com>\r\nReferences: <CAKx8+Y3q@mail.example.com>\r\n\t<CAJw2=Zp@mail.example.org>\r\n <2f.9Bq@mx.example.net>\r\nSubject: hi\r\n"},
		{"message_id_hex_local", `<3f2a9c1d8e7b6a5f4e3d2c1b@mx.example.com>`},
		{"role_mailbox", `From: noreply@vendor.example.com`},
		{"sensor_readings", `{"temp":21.5,"hum":48.25,"pressure":1013.25,"battery":3.71}`},
		{"coordinates_low_precision", `{"lat":52.52,"lon":13.4}`},
		{"coordinates_lat_only", `{"lat":52.520008}`},
		{"coordinates_out_of_range", `{"lat":152.5200,"lon":13.4050}`},
		{"coordinates_null_island", `{"location":"0.0000,0.0000"}`},
		{"coordinates_null_island_json_pair", `{"lat":0.000000,"lon":0.000000,"fix":0}`},
		{"coordinates_null_island_form_pair", `lat=0.0000&lng=0.0000`},
		{"coordinates_null_island_xml_pair", `<lat>0.00000</lat><lon>0.00000</lon>`},
		{"coordinates_null_island_signed_pair", `{"lat":-0.0000,"lon":+0.0000}`},
		{"coordinates_unlabelled_pair", `values 52.5200,13.4050 from sensor`},
		// Both below 1 degree, in two fields as in one.
		{"coordinates_both_below_one_degree", `{"lat":0.1234,"lon":-0.5678}`},
		{"coordinates_both_below_one_degree_form", `lat=0.5123&lng=0.0042`},
		// A vehicle's lateral and longitudinal acceleration, a latency.
		{"acceleration_lat_long", `{"acc_lat":0.1234,"acc_long":-0.5678}`},
		{"acceleration_in_metres", `{"accel_lat":3.2105,"accel_long":-1.4472}`},
		{"latency_lat", `{"avg_lat":12.3456,"max_lon":45.6789}`},
		{"flat_is_not_lat", `{"flat":52.5200,"salon":13.4050}`},
		{"non_luhn_16_digits", `order 4111111111111112 shipped`},
		{"luhn_but_no_scheme", `ref 1234567812345670`},
		{"all_one_digit", `{"x":"4444444444444444"}`},
		{"order_id_luhn", `{"order_id":"4111111111111111"}`},
		{"ean_barcode", `{"ean":"4006381334013","name":"Filter"}`},
		{"device_names", `[{"name":"Living Room"},{"name":"Kitchen Light"},{"name":"Garden Gate"}]`},
		{"card_in_hex", `token=ab4111111111111111cd`},
		{"card_in_path", `GET /orders/4111111111111111 HTTP/1.1`},
		{"card_decimal", `value=4111111111111111.5`},
		{"card_bad_grouping", `4111 11 1111 1111 11`},
		{"iccid", `{"iccid":"89014103211118510720"}`},
		{"bare_digits_not_phone", `{"count":"0301234567","reading":5551234567}`},
		{"plus_digits_short", `offset=+0100 and +49`},
		{"plus_in_expression", `x=1e+123456789012`},
		{"phone_label_model", `{"phone_model":"Pixel 7","phone":"unknown"}`},
		{"phone_label_float", `{"phone":12345678.9}`},
		{"headphone_key", `{"headphone":"0301234567"}`},
		{"imei_bad_luhn", `{"imei":"490154203237519"}`},
		{"imei_bad_rbi", `{"imei":"000000000000000"}`},
		{"imei_unlabelled", `id 490154203237518 seen`},
		{"imei_tk103_bad_luhn", "imei:490154203237519,tracker,151006012336,,F,;"},
		{"imei_tk103_short", "imei:49015420323751,tracker,151006012336,,F,;"},
		{"imei_tk103_heartbeat_unlabelled", "490154203237518;"},
		{"mac_unlabelled", `neighbour a4:cf:12:9b:3e:01 reachable`},
		{"mac_zero", `{"mac":"00:00:00:00:00:00"}`},
		{"mac_broadcast", `{"mac":"ff:ff:ff:ff:ff:ff"}`},
		{"mac_unavailable_constant", `{"mac":"02:00:00:00:00:00"}`},
		{"mac_one_digit_repeated", `{"mac":"111111111111","wifi_mac":"aaaaaaaaaaaa","bssid":"22:22:22:22:22:22"}`},
		{"mac_multicast", `{"mac":"01:00:5e:00:00:fb","bssid":"33:33:00:00:00:01","hwaddr":"03-1a-2b-3c-4d-5e"}`},
		{"mac_vrrp", `{"mac":"00:00:5e:00:01:01"}`},
		{"mac_placeholder_halves", `{"mac":"00:00:00:12:34:56","wifi_mac":"a4:cf:12:00:00:00"}`},
		{"serial_too_short", `{"sn":"A1"}`},
		{"serial_placeholder", `{"serial":"unknown"}`},
		{"serial_md5", `{"serial":"d41d8cd98f00b204e9800998ecf8427e"}`},
		// Counters, codes and placeholders under a serial's label.
		{"serial_json_number", `{"sn":123456,"serial":1,"serialNumber":20190412345}`},
		{"serial_short_digits", `{"sn":"123456","serial":"0004711"}`},
		{"serial_digit_run", `{"serial":"12345678","sn":"0123456789"}`},
		{"serial_date", `{"serial_no":"20240115"}`},
		{"ssid_without_key", `{"ssid":"HomeNet","rssi":-60}`},
		{"password_without_ssid", `{"user":"admin","password":"hunter2hunter2"}`},
		{"psk_too_short", `{"ssid":"x","psk":"short"}`},
		{"wifi_key_masked", `{"wifi":{"ssid":"HomeNet","encryption":"psk2","password":"********"}}`},
		{"wifi_psk_masked_x", `{"ssid":"HomeNet","psk":"xxxxxxxx"}`},
		{"name_alone", `{"name":"Living Room Lamp","room":"kitchen"}`},
		{"name_with_postcode_alone", `{"name":"Front Door","zip":"10115"}`},
		{"signed_number_not_nanp", "delta +1234567890 us"},
		{"first_name_alone", `{"first_name":"Alice"}`},
		{"device_name", `{"device_name":"Alice Smith","email":"x"}`},
		{"address_ip", `{"ip_address":"192.168.1.20","server_address":"mqtt.example.com"}`},
		{"address_ble", `{"ble_address":"AA:BB:CC:DD:EE:FF"}`},
		{"address_room", `{"address":"Room 101","location":"Floor 3, Suite 200"}`},
		{"address_i2c", `{"i2c_address":"0x76 BME280","address":"0x76 BME280"}`},
		{"address_of_a_sensor", `{"sensor_address":"Bus 2 Node 14"}`},
		{"zip_flag", `{"zip":true,"gzip":"on"}`},
		{"city_alone", `{"city":"Berlin","zip":"10115"}`},
		{"base64_blob", `data=QUxJQ0VAZXhhbXBsZS5jb20gNDExMTExMTExMTExMTExMQ==`},
		{"nmea_bad_checksum", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48"},
		{"nmea_no_fix", "$GPGGA,123519,,,,,0,00,,,M,,M,,*6B"},
		{"nmea_rmc_void", "$GPRMC,123519,V,,,,,,,230394,,*33"},
		{"nmea_other_sentence", "$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74"},
		{"ipv6", `addr fe80::1ff:fe23:4567:890a and 2001:db8::1`},
		{"dates", `2024-01-01T12:00:00+01:00 and 20240101120000`},
		{"empty", ``},
		{"binary", "\x00\x01\x02@\xff\xfe+1234567890123\x00"},
		{"device_name_with_weather_city", `{"name":"Kitchen Sensor","location":{"city":"Berlin","zip":"10115"}}`},
		// The home's postcode and city support no device in the list.
		{"device_names_beside_a_home_address", `{"home":{"city":"Berlin","zip":"10115"},"devices":[{"name":"Max Mustermann"},{"name":"Anna Schmidt"}]}`},
		{"device_list_beside_a_home_address", `{"home":{"city":"Berlin","zip":"10115"},"devices":[{"name":"Ceiling Fan"},{"name":"Coffee Maker"}]}`},
		{"coordinates_printed_with_%f", `{"lat":52.520000,"lon":13.400000}`},
		{"indoor_position_metres", `{"position":[2.5312,4.1250,1.2000]}`},
		{"ptz_pan_tilt_degrees", `{"ptz":{"position":[45.1250,-10.5000]}}`},
		{"mqtt_password_beside_ssid", `{"ssid":"HomeNet","rssi":-61,"mqtt":{"user":"dev","password":"mqttsecret1"}}`},
		{"admin_password_beside_ssid", `{"ssid":"HomeNet","admin_password":"mqttsecret1"}`},
		{"wifi_key_masked_word", `{"ssid":"HomeNet","password":"**REDACTED**"}`},
		{"wifi_key_masked_tag", `{"ssid":"HomeNet","psk":"<hidden>"}`},
		{"cell_id", `{"mcc":262,"mnc":1,"lac":12345,"cell":26534571}`},
		{"nmea_gga_no_fix_zero_position", "$GPGGA,000000.000,0000.0000,N,00000.0000,E,0,00,99.9,0.0,M,0.0,M,,*54\r\n"},
		{"nmea_gll_void", "$GPGLL,4916.45,N,12311.12,W,225444,V,N*44\r\n"},
		{"nmea_rmc_zero_position", "$GPRMC,225446,A,0000.0000,N,00000.0000,E,000.0,000.0,060180,,*11\r\n"},
		{"adc_readings", "adc raw: 4012 3987 4001 3996\n"},
		{"ip_address_and_word", `{"ip_address":"192.168.1.10 dhcp"}`},
		{"mdns_host", "ssh session pi@raspberrypi.local\n"},
		{"build_host", `{"kernel":"Linux version 4.14.0 (jenkins@ci-build01.localdomain) #1 SMP"}`},
		{"kernel_build_host", `{"kernel":"Linux version 4.9.37 (build@fw-ci.vendor.com) #1 SMP"}`},
		{"kernel_build_host_in_dmesg", "[    0.000000] Linux version 5.10.176 (builder@buildhost.example.org) (gcc 12.3.0) #0 SMP\n"},
		{"signed_readings", "imu +2034 -0567 -0012\n"},
		// A reading and a time: no code starting 21 has two digits.
		{"reading_and_epoch", `temp=+21 1700000000`},
		{"reading_and_epoch_in_text", "delta +21 1700000000 s"},
		{"country_code_split", "x +4 930 1234567"},
		// Outside a form a value after "=" ends at a blank.
		{"reading_and_epoch_after_equals", "temp=+30 1700000000 hum=40"},
		{"phone_label_date", `{"phone":"15/01/2024","mobile":"2024-01-15","tel":"01.15.2024"}`},
		{"phone_label_ip_address", `{"phone":"192.168.100.10","mobile":"10.0.0.25"}`},
		{"phone_label_decimal", `{"phone":"12345678.9","tel":"030.1234567.8"}`},
		{"wifi_password_of_another_prefix", `{"sta_ssid":"HomeNet","ap_password":"hunter2hunter2"}`},
		{"wifi_key_masked_in_parentheses", `{"ssid":"HomeNet","password":"(not set)"}`},
		{"wifi_key_undefined", `{"ssid":"HomeNet","password":"undefined"}`},
		{"wifi_key_null_in_brackets", `{"ssid":"HomeNet","psk":"<< null >>"} {"ssid":"Guest","psk":"[unknown]"}`},
		{"wifi_key_mask_characters", `{"ssid":"HomeNet","psk":"XXXX-XXXX"} {"ssid":"Guest","psk":"########"}`},
		{"wifi_key_configured", `{"ssid":"HomeNet","password":"configured"} {"ssid":"Guest","psk":"Not Configured"}`},
		{"wifi_key_stars_and_spaces", `{"ssid":"HomeNet","password":"* * * * * *"}`},
		{"wifi_key_encrypted_word", `{"ssid":"HomeNet","psk":"(encrypted)"}`},
		{"card_spaces_in_a_word", "capacity 4111 1111 1111 1111"},
		// A number that is a field's whole value is what the key says.
		{"card_shaped_imeisv", `{"imeisv":"3548760512345606"}`},
		{"card_shaped_counter_string", `{"bytes_rx":"5105105105105100"}`},
		{"card_shaped_query_id", "GET /api/v1/status?cid=4000001234567899&v=2 HTTP/1.1"},
		{"card_shaped_query_value", "GET /api/v1/status?ref=4000001234567899&v=2 HTTP/1.1"},
		{"card_shaped_log_value", "poll ref=4000001234567899 v=2\n"},
		{"card_shaped_xml_text", `<imeisv>3548760512345606</imeisv>`},
		{"card_shaped_header", "X-Trace: 4000001234567899\r\nHost: x\r\n"},
		{"escaped_json_masked_key", `{"data":"{\"ssid\":\"HomeNet\",\"password\":\"********\"}"}`},
		{"escaped_json_device_name", `{"data":"{\"name\":\"Ceiling Fan\",\"zip\":\"10115\",\"city\":\"Berlin\"}"}`},
		{"escaped_json_phone_that_is_a_date", `{"data":"{\"phone\":\"15/01/2024\"}"}`},
		{"card_shaped_escaped_json", `{"data":"{\"bytes_rx\":\"5105105105105100\"}"}`},
		{"card_shaped_without_payment_form", `number=6011111111111117`},
		{"card_shaped_session_id", `{"msgid":"4000001234567899","sessionId":"4111111111111111"}`},
		// Dash groups, like space groups, need a word of payment.
		{"card_dashes_in_code", `{"activation_code":"4000-0012-3456-7899"}`},
		{"card_dashes_in_text", "code 4000-0012-3456-7899 accepted"},
		// A password without an SSID is a login, whatever its key.
		{"passwd_without_ssid", `{"user":"admin","passwd":"hunter2hunter2"}`},
		// A number of 2 or 3 decimals counts only beside one of 5 to 7
		// written without trailing zeros.
		{"location_both_short", `{"lat":52.516,"lon":13.377}`},
		{"location_partner_of_four", `{"lat":52.5167,"lon":13.4}`},
		{"location_partner_of_four_short", `{"lat":52.5163,"lon":13.38}`},
		{"location_partner_keeps_zeros", `{"lat":52.516270,"lon":13.377}`},
		{"location_short_keeps_zeros", `{"lat":52.5162745,"lon":13.370}`},
		{"location_one_decimal", `{"lat":52.5162745,"lon":13.4}`},
		{"location_float32_partner", `{"lat":52.52000045776367,"lon":13.377}`},
		{"location_partner_of_eight", `{"lat":52.51627451,"lon":13.377}`},
		{"location_short_pair_string", `{"location":"52.5162745,13.4"}`},
		{"location_zeros_dropped_null_island", `{"lat":0.5162745,"lon":0.377}`},
		{"location_zeros_dropped_no_lon", `{"lat":52.5162745,"alt":13.377}`},
		{"sta_pass_without_ssid", `{"sta_pass":"hunter2hunter2"}`},
		{"sta_pwd_masked", `{"sta_ssid":"HomeNet","sta_pwd":"********"}`},
		{"sta_pass_empty", `{"sta_ssid":"HomeNet","sta_pass":""}`},
		// "sta" must be a word of its own: a vista's pass is none.
		{"vista_pass", `{"ssid":"HomeNet","vistapass":"hunter2hunter2"}`},
		{"ap_pass_beside_sta_ssid", `{"sta_ssid":"HomeNet","ap_pass":"hunter2hunter2"}`},
		{"wifi_pwd_masked", `{"ssid":"HomeNet","wifi_pwd":"********"}`},
		// A device's own MQTT or XMPP identity in a mailbox's shape: a
		// word of twelve or more hex digits (its MAC, a chip id).
		{"device_identity_client_id", `{"clientid":"plug_a4cf129b3e01@mqtt.vendor.com"}`},
		{"device_identity_username", `{"username":"A4CF129B3E01@devices.vendor.io"}`},
		{"device_identity_jid", `<iq to="c45bbe6c1234-02@xmpp.vendor.net/atom">`},
	}
	s := newFinder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.results([]byte(tt.in), 0); len(got) != 0 {
				t.Errorf("find(%q) = %v, want nothing", tt.in, got)
			}
		})
	}
}

func TestLabelLookup(t *testing.T) {
	x := newLabelIndex()
	tests := []struct{ key, want string }{
		{"email", "email"},
		{"EMAIL", "email"},
		{"userEmail", "email"},
		{"user_email", "email"},
		{"user[email]", "email"},
		{"gmail", ""},
		{"serialNumber", "serial_number"},
		{"serial-number", "serial_number"},
		{"SerialNumber", "serial_number"},
		{"device.serial", "serial"},
		{"macAddress", "mac_address"},
		{"MACAddress", "mac_address"},
		{"ip_address", ""},
		{"i2c_address", ""},
		{"homeAddress", "home_address"},
		{"device_id", "device_id"},
		{"android_id", "id"},
		{"flat", ""},
		{"gps_lat", "lat"},
		{"GPSLat", "lat"},
		{"home_lng", "lng"},
		{"acc_lat", ""},
		{"accLong", ""},
		{"avg_lat", ""},
		{"GPSLatitude", "latitude"},
		{"hotel", ""},
		{"headphone", ""},
		{"device_name", ""},
		{"name", "name"},
		{"username", "username"},
		{"user_name", "username"},
		{"wifi_key", "wifi_key"},
		{"api_key", ""},
		{strings.Repeat("a", 70) + "email", ""},
		{"msgid", "msg_id"},
		{"sessionId", "session_id"},
		{"cid", "cid"},
		{"card_cvc", "cvc"},
		{"expMonth", "exp_month"},
	}
	for _, tt := range tests {
		got := ""
		if i := x.lookup([]byte(tt.key)); i >= 0 {
			got = x.labels[i].field
		}
		if got != tt.want {
			t.Errorf("lookup(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestLuhnAndSchemes(t *testing.T) {
	tests := []struct {
		digits string
		card   bool
	}{
		{"4111111111111111", true},
		{"4012888888881881", true},
		{"5555555555554444", true},
		{"2223000048400011", true},
		{"378282246310005", true},
		{"6011111111111117", true},
		{"3530111333300000", true},
		{"30569309025904", false},  // Diners' 14 digits: a GTIN-14's length
		{"50012345678902", false},  // a GTIN-14 with Maestro's prefix
		{"300234010753376", false}, // an IMEI (reporting body 30) with Diners' prefix
		{"500123456789010", false}, // an IMEI with Maestro's prefix
		{"36148900647913", false},  // Diners' 14-digit test number
		{"6200000000000005", true},
		{"4111111111111112", false}, // Luhn
		{"1234567812345670", false}, // no scheme
		{"411111111111111", false},  // Visa has no 15-digit numbers
		{"4006381334013", false},    // an EAN-13 barcode (Germany) that passes Luhn
		{"5012345678908", false},    // an EAN-13 (UK) that passes Luhn, Maestro's prefix
		{"4222222222222", false},    // Visa's retired 13-digit test number
		{"7000000000000007", false}, // no scheme
	}
	for _, tt := range tests {
		d := []byte(tt.digits)
		if got := luhn(d) && cardScheme(d); got != tt.card {
			t.Errorf("%s: card = %v, want %v", tt.digits, got, tt.card)
		}
	}
}

// TestManyFieldsStayLabelled: a long payload has more labelled values
// than the scanner remembers at once; the ones that matter are the most
// recent, so an id late in the payload is still an id.
func TestManyFieldsStayLabelled(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, `{"ts":%d,"seq":%d,"order_id":"4111111111111111"},`, int64(1700000000000)+int64(i), i)
	}
	s := newFinder()
	if got := s.results([]byte(b.String()), 0); len(got) != 0 {
		t.Fatalf("ids reported as cards: %v", got)
	}
	b.WriteString(`{"note":"card 4111 1111 1111 1111"}`)
	if got := s.results([]byte(b.String()), 0); len(got) != 1 || got[0].kind != "card" {
		t.Fatalf("the card at the end: %v", got)
	}
}

// TestFindAtCut: where a payload was cut from a longer one, a datum that
// runs into the cut may be part of a longer string and is not reported;
// one clear of the cut, or at an end that is the payload's own, is.
func TestFindAtCut(t *testing.T) {
	const (
		start = inspect.CutStart
		end   = inspect.CutEnd
		both  = inspect.CutStart | inspect.CutEnd
	)
	tests := []struct {
		name string
		in   string
		cut  inspect.Cut
		want []found
	}{
		// The front of 41111111111111113947203948572039.
		{"card_front_at_cut_end", `value 4111111111111111`, end, nil},
		{"card_front_at_real_end", `value 4111111111111111`, 0, []found{{"card", ""}}},
		// The tail of 39472039485720394111111111111111.
		{"card_tail_at_cut_start", `4111111111111111 end`, start, nil},
		{"card_tail_after_group_separator", ` 4111 1111 1111 1111 end`, start, nil},
		{"card_clear_of_cuts", `pay 4111 1111 1111 1111 now`, both, []found{{"card", ""}}},
		{"card_before_trailing_separator", `value 4111111111111111 `, end, nil},
		{"phone_before_separators", `call +49 30 1234567  `, end, nil},
		{"email_domain_at_cut", `to alice@example.co`, end, nil},
		{"email_local_part_at_cut", `alice@example.com wrote`, start, nil},
		// "phone" may be the tail of "headphone".
		{"key_at_cut_start", `phone=0301234567&x=1`, start, nil},
		{"key_at_real_start", `phone=0301234567&x=1`, 0, []found{{"phone", "phone"}}},
		{"quoted_value_at_cut_end", `{"imei":"490154203237518`, end, nil},
		{"quoted_value_closed", `{"imei":"490154203237518"} `, end, []found{{"imei", "imei"}}},
		{"longitude_at_cut_end", `{"lat":52.520008,"lon":13.4049`, end, nil},
		{"location_clear_of_cut", `{"lat":52.520008,"lon":13.404954} x`, end, []found{{"location", "lat"}}},
		{"email_closed_by_quote_at_cut", `{"email":"alice@example.com"}`, both, []found{{"email", "email"}}},
		{"card_closed_by_quote_at_cut", `"4111111111111111"`, both, []found{{"card", ""}}},
		// A string the label makes personal stays one when cut: the front
		// of a Wi-Fi key is still a key sent in clear.
		{"wifi_key_at_cut_end", `ssid=HomeNetwork-5G&security=wpa2&psk=correct-horse-battery-staple`, end, []found{{"wifi_credentials", "psk"}}},
		{"wifi_key_quoted_at_cut_end", `{"ssid":"HomeNetwork-5G","psk":"correct-hor`, end, []found{{"wifi_credentials", "psk"}}},
		{"ssid_at_cut_end", `{"psk":"correct-horse-battery-staple","ssid":"HomeNet`, end, []found{{"wifi_credentials", "psk"}}},
		{"wifi_key_too_short_at_cut_end", `ssid=HomeNetwork-5G&psk=correct`, end, nil},
		// "ssid" may be the tail of "bssid".
		{"ssid_key_at_cut_start", `ssid=HomeNetwork-5G&psk=correct-horse-battery-staple&x=1`, start, nil},
		{"name_and_street_at_cut_end", `{"name":"Alice Smith","street":"Hauptstraße 5`, end, []found{{"address", "street"}, {"name", "name"}}},
		{"phone_value_at_cut_end", `{"name":"Alice Smith","phone":"+49301234567`, end, nil},
	}
	s := newFinder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.results([]byte(tt.in), tt.cut)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("find(%q, %d) = %v, want %v", tt.in, tt.cut, got, tt.want)
			}
		})
	}
}

// TestMatchCap: what only counts together (a position, a Wi-Fi key, a
// name) is found once the payload is read; the matches found before it
// leave room for it, and matches that would be one finding (a Wi-Fi
// scan's many access points under one label) or that do not count (MACs
// on the LAN) take none.
func TestMatchCap(t *testing.T) {
	var aps, labels []string
	for i := range 16 {
		aps = append(aps, fmt.Sprintf(`{"macAddress":"a4:cf:12:9b:3e:%02x","signalStrength":-60}`, i+1))
	}
	// Findings of their own, one per e-mail label: more than the
	// slots not kept for paired kinds (maxMatches-maxPaired).
	for _, k := range []string{"email", "mail", "username", "e_mail", "email_address", "user", "login", "account", "contact", "login_id", "login_name", "user_id", "account_id"} {
		labels = append(labels, fmt.Sprintf(`{%q:"alice@example.com"}`, k))
	}
	scan := `"wifiAccessPoints":[` + strings.Join(aps, ",") + `]`
	tests := []struct {
		name string
		in   string
		ids  bool
		want []found
	}{
		{"position_after_access_points", `{"position":{"latitude":52.520008,"longitude":13.404954},` + scan + `}`, true,
			[]found{{"mac", "mac_address"}, {"location", "latitude"}}},
		{"wifi_key_after_access_points", `{"sta":{"ssid":"HomeNet","password":"hunter2hunter2"},` + scan + `}`, true,
			[]found{{"mac", "mac_address"}, {"wifi_credentials", "password"}}},
		{"access_points_on_the_lan", `{"latitude":52.520008,"longitude":13.404954,` + scan + `}`, false,
			[]found{{"location", "latitude"}}},
		{"position_after_many_labels", `[` + strings.Join(labels, ",") + `,{"lat":52.520008,"lon":13.404954}]`, true,
			[]found{{"email", "email"}, {"email", "mail"}, {"email", "username"}, {"email", "email_address"}, {"email", "user"},
				{"email", "login"}, {"email", "account"}, {"email", "contact"}, {"email", "login_id"}, {"location", "lat"}}},
		// A second user's e-mail address, merged into the first, still
		// supports the name beside it.
		{"merged_match_supports_its_name", `[{"email":"alice@example.com"},{"name":"Bob Jones","email":"bob@example.com"}]`, true,
			[]found{{"email", "email"}, {"name", "name"}}},
	}
	s := newFinder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.resultsWith([]byte(tt.in), 0, false, tt.ids); !slices.Equal(got, tt.want) {
				t.Errorf("find(%d bytes) = %v, want %v", len(tt.in), got, tt.want)
			}
		})
	}
}
