package albtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// SigV4 checks, when Config.Credentials is set. Facts from the AWS
// documentation ("Create a signed AWS API request", Signature Version 4):
// the Authorization header is "AWS4-HMAC-SHA256 Credential=<key id>/<date>/
// <region>/<service>/aws4_request, SignedHeaders=<h1;h2...>,
// Signature=<hex>"; the signature is the HMAC-SHA256, under a key derived
// from "AWS4"+secret, date, region, service and "aws4_request", of
// "AWS4-HMAC-SHA256\n<X-Amz-Date>\n<scope>\n<hex sha256 of the canonical
// request>"; the canonical request is method, URI, sorted query, the signed
// headers as "name:value\n" (lowercase names, trimmed values with runs of
// spaces collapsed), the signed header list and the payload's hex SHA-256.
// Refusals use the codes of the ELBv2 API Reference's Common Errors
// (MissingAuthenticationToken and InvalidClientTokenId, HTTP 403;
// IncompleteSignature, 400) and SignatureDoesNotMatch (403), which AWS
// answers to a wrong signature.

// sigService is the signing name of ELBv2.
const sigService = "elasticloadbalancing"

// verifySigV4 checks r's signature over body against creds, or returns
// the error to answer with.
func verifySigV4(r *http.Request, body []byte, creds map[string]string) *APIError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &APIError{Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Status: http.StatusForbidden}
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return &APIError{Code: "IncompleteSignature", Message: "Authorization header requires the AWS4-HMAC-SHA256 algorithm"}
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || signed == "" || sig == "" || scope[4] != "aws4_request" {
		return &APIError{Code: "IncompleteSignature", Message: "Authorization header requires Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders and Signature"}
	}
	secret, ok := creds[scope[0]]
	if !ok {
		return &APIError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if scope[3] != sigService || len(amzDate) < 8 || amzDate[:8] != scope[1] {
		return &APIError{Code: "SignatureDoesNotMatch", Message: "Credential should be scoped to a valid date and to the service " + sigService, Status: http.StatusForbidden}
	}
	names := strings.Split(signed, ";")
	if !slices.Contains(names, "host") || !slices.IsSorted(names) {
		return &APIError{Code: "IncompleteSignature", Message: "SignedHeaders must be sorted and include host"}
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(canonicalQuery(r) + "\n")
	for _, n := range names {
		canon.WriteString(n + ":" + headerValue(r, n) + "\n")
	}
	canon.WriteString("\n" + signed + "\n")
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = hexSHA256(body)
	}
	canon.WriteString(payload)
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hexSHA256([]byte(canon.String()))
	key := []byte("AWS4" + secret)
	for _, s := range scope[1:] {
		key = hmacSHA256(key, s)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return &APIError{Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.", Status: http.StatusForbidden}
	}
	return nil
}

// readBody reads r's body (at most limit bytes) and puts it back for
// ParseForm.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func canonicalQuery(r *http.Request) string {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, sigEscape(k)+"="+sigEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// sigEscape is SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ is
// %XX.
func sigEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// headerValue is the canonical value of header n (lowercase): values joined
// by ",", each trimmed with runs of spaces collapsed. net/http moves Host
// out of the header map.
func headerValue(r *http.Request, n string) string {
	var vs []string
	switch {
	case n == "host":
		vs = []string{r.Host}
	case n == "content-length" && r.Header.Get("Content-Length") == "":
		vs = []string{strconv.FormatInt(r.ContentLength, 10)}
	default:
		vs = r.Header.Values(http.CanonicalHeaderKey(n))
	}
	for i, v := range vs {
		vs[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vs, ",")
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}
