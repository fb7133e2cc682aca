package winrm

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	mzwinrm "github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// faultAction is the WS-Addressing action of a WS-Management fault.
const faultAction = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

// wsmanFault is a SOAP fault the server answered with (WinRM sends them with
// HTTP 500, which the client passes on as a normal body).
type wsmanFault struct {
	Subcode string // for example "w:InvalidSelectors"
	Reason  string
}

func (f *wsmanFault) Error() string {
	return fmt.Sprintf("WS-Management fault %s: %s", f.Subcode, f.Reason)
}

// faultTransport wraps the client's transport so that SOAP faults become
// errors. The client itself returns a fault body as a success: a fault on
// Create yields an empty shell id, and a fault on Receive is taken for "no
// output yet" and polled again at once, in a loop that would spin until the
// deadline. The WS-Management operation timeout (w:TimedOut), which is how
// WinRM says "no output yet" on a long Receive, is passed through unchanged.
type faultTransport struct {
	inner mzwinrm.Transporter
}

func (t *faultTransport) Transport(ep *mzwinrm.Endpoint) error { return t.inner.Transport(ep) }

func (t *faultTransport) Post(c *mzwinrm.Client, req *soap.SoapMessage) (string, error) {
	body, err := t.inner.Post(c, req)
	if err == nil && strings.TrimSpace(body) == "" {
		// The encrypting transport returns the body of a non-encrypted
		// answer (a 401 on a connection whose NTLM context was lost) as
		// an empty success.
		return "", errors.New("the server answered with no content (http error: unauthenticated or not encrypted)")
	}
	if err != nil || !strings.Contains(body, faultAction) {
		return body, err
	}
	if f := parseFault(body); f != nil && !strings.HasSuffix(f.Subcode, "TimedOut") {
		return "", f
	}
	return body, nil
}

// parseFault returns the fault in body, or nil when body is not a fault.
func parseFault(body string) *wsmanFault {
	var env struct {
		Action string `xml:"Header>Action"`
		Fault  *struct {
			Subcode string `xml:"Code>Subcode>Value"`
			Reason  string `xml:"Reason>Text"`
		} `xml:"Body>Fault"`
	}
	if err := xml.Unmarshal([]byte(body), &env); err != nil || strings.TrimSpace(env.Action) != faultAction || env.Fault == nil {
		return nil
	}
	return &wsmanFault{Subcode: strings.TrimSpace(env.Fault.Subcode), Reason: strings.Join(strings.Fields(env.Fault.Reason), " ")}
}
