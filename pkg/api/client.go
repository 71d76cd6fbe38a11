package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Client talks to a daemon's API over its Unix socket.
type Client struct {
	hc *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Status asks for the daemon's health.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/status", nil, &s)
}

// Devices lists the devices.
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	var ds []Device
	return ds, c.do(ctx, http.MethodGet, "/devices", nil, &ds)
}

// Quarantine quarantines mac as the owner.
func (c *Client) Quarantine(ctx context.Context, mac hwaddr.MAC, req QuarantineRequest) (Device, error) {
	var d Device
	return d, c.do(ctx, http.MethodPost, "/devices/"+mac.String()+"/quarantine", req, &d)
}

// Release ends mac's quarantine.
func (c *Client) Release(ctx context.Context, mac hwaddr.MAC) (Device, error) {
	var d Device
	return d, c.do(ctx, http.MethodPost, "/devices/"+mac.String()+"/release", nil, &d)
}

// Audit queues mac's active audit.
func (c *Client) Audit(ctx context.Context, mac hwaddr.MAC) (Device, error) {
	var d Device
	return d, c.do(ctx, http.MethodPost, "/devices/"+mac.String()+"/audit", nil, &d)
}

// SetTrusted marks mac trusted or not.
func (c *Client) SetTrusted(ctx context.Context, mac hwaddr.MAC, trusted bool) (Device, error) {
	var d Device
	return d, c.do(ctx, http.MethodPost, "/devices/"+mac.String()+"/trust", TrustRequest{Trusted: trusted}, &d)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://iotgw"+Version+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("daemon not reachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	return json.Unmarshal(data, out)
}
