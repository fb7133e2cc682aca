package winrmtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
)

// WS-Management action URIs of the Windows remote shell.
const (
	ActionCreate  = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
	ActionDelete  = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
	ActionCommand = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
	ActionReceive = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
	ActionSignal  = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal"
	ActionSend    = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send"

	actionFault     = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
	commandStateURI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
)

// envelope is the part of a request the fake reads.
type envelope struct {
	Header struct {
		Action    string `xml:"Action"`
		MessageID string `xml:"MessageID"`
		Selectors []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		} `xml:"SelectorSet>Selector"`
	} `xml:"Header"`
	Body struct {
		CommandLine *struct {
			Command   string `xml:"Command"`
			Arguments string `xml:"Arguments"`
		} `xml:"CommandLine"`
		Receive *struct {
			DesiredStream struct {
				CommandID string `xml:"CommandId,attr"`
			} `xml:"DesiredStream"`
		} `xml:"Receive"`
		Signal *struct {
			CommandID string `xml:"CommandId,attr"`
			Code      string `xml:"Code"`
		} `xml:"Signal"`
	} `xml:"Body"`
}

func (e *envelope) shellID() string {
	for _, s := range e.Header.Selectors {
		if s.Name == "ShellId" {
			return strings.TrimSpace(s.Value)
		}
	}
	return ""
}

const envelopeOpen = `<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">`

// reply builds a response envelope with the WS-Addressing headers the client
// checks (Action) and the ones a real server sends (MessageID, RelatesTo).
func reply(action, relatesTo, body string) string {
	return envelopeOpen + `<s:Header><a:Action>` + action + `</a:Action><a:MessageID>uuid:` + newID() +
		`</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>` +
		xmlText(relatesTo) + `</a:RelatesTo></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

func createResponse(relatesTo, addr, shellID string) string {
	return reply(ActionCreate+"Response", relatesTo,
		`<x:ResourceCreated><a:Address>`+xmlText(addr)+`</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">`+
			shellID+`</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`+
			`<rsp:Shell><rsp:ShellId>`+shellID+`</rsp:ShellId><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`)
}

func commandResponse(relatesTo, commandID string) string {
	return reply(ActionCommand+"Response", relatesTo, `<rsp:CommandResponse><rsp:CommandId>`+commandID+`</rsp:CommandId></rsp:CommandResponse>`)
}

// receiveResponse returns one chunk of a command's output; the last chunk
// carries the End markers and the Done state with the exit code, the others
// the Running state (MS-WSMV 2.2.4.31 ReceiveResponse).
func receiveResponse(relatesTo, commandID string, c outputChunk, code int, defect Defect) string {
	var b strings.Builder
	b.WriteString(`<rsp:ReceiveResponse>`)
	stream := func(name, data string) {
		if data == "" {
			return
		}
		enc := base64.StdEncoding.EncodeToString([]byte(data))
		if defect == DefectStreamEncoding {
			enc = enc[:len(enc)-1] // truncated: a client that decodes the stream must fail
		}
		fmt.Fprintf(&b, `<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>`, name, commandID, enc)
	}
	stream("stdout", c.stdout)
	stream("stderr", c.stderr)
	if !c.done {
		fmt.Fprintf(&b, `<rsp:CommandState CommandId="%s" State="%sRunning"/></rsp:ReceiveResponse>`, commandID, commandStateURI)
		return reply(ActionReceive+"Response", relatesTo, b.String())
	}
	fmt.Fprintf(&b, `<rsp:Stream Name="stdout" CommandId="%s" End="true"></rsp:Stream><rsp:Stream Name="stderr" CommandId="%s" End="true"></rsp:Stream>`, commandID, commandID)
	fmt.Fprintf(&b, `<rsp:CommandState CommandId="%s" State="%sDone"><rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`, commandID, commandStateURI, code)
	return reply(ActionReceive+"Response", relatesTo, b.String())
}

// timedOutText is WinRM's reason for the w:TimedOut fault.
const timedOutText = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."

// timedOutResponse is the w:TimedOut fault with its WSManFault detail, code
// 2150858793 (0x80338029, ERROR_WSMAN_OPERATION_TIMEDOUT).
func timedOutResponse(relatesTo, machine string) string {
	return reply(actionFault, relatesTo, `<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">`+
		timedOutText+`</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793" Machine="`+xmlText(machine)+
		`"><f:Message>`+timedOutText+`</f:Message></f:WSManFault></s:Detail></s:Fault>`)
}

func emptyResponse(action, relatesTo, element string) string {
	if element == "" {
		return reply(action, relatesTo, "")
	}
	return reply(action, relatesTo, `<rsp:`+element+`/>`)
}

// faultResponse is a WS-Management fault, as WinRM sends with HTTP 500.
func faultResponse(relatesTo, subcode, text string) string {
	return reply(actionFault, relatesTo, `<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:`+subcode+
		`</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">`+xmlText(text)+`</s:Text></s:Reason></s:Fault>`)
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// newID returns a random upper-case UUID (version 4).
func newID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:]))
}
