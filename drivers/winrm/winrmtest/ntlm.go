package winrmtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4" //nolint:staticcheck // NTLM is defined over MD4 (MS-NLMP 3.3.2 NTOWFv2)
)

// The server side of NTLMv2 (MS-NLMP, "[MS-NLMP]: NT LAN Manager (NTLM)
// Authentication Protocol"), enough to authenticate the clients the driver
// and its users run (github.com/Azure/go-ntlmssp behind masterzen/winrm's
// ClientNTLM, github.com/bodgit/ntlmssp behind its message encryption, and
// Python's ntlm-auth behind pywinrm) and to seal and unseal messages as
// Windows does for WinRM message encryption (MS-WSMV 2.2.9.1.1).
//
// What it verifies: the NTLMv2 response (NTProofStr = HMAC_MD5(NTOWFv2,
// ServerChallenge || temp), MS-NLMP 3.3.2) against the configured user name
// (case-insensitive, as Windows compares account names) and password, with
// the domain the client sent; the MIC (MS-NLMP 3.1.5.1.2) when the client
// says it sent one (MsvAvFlags bit 0x2); the signature and sequence number of
// every sealed message (MS-NLMP 3.4.4.2). What it does not: LM and NTLMv1
// responses are refused (Windows Server refuses them by default,
// LmCompatibilityLevel 3 and up), channel binding tokens are not checked
// (WinRM's CbtHardeningLevel default, "Relaxed", accepts a client that sends
// none), and SPNEGO-wrapped or Kerberos tokens are refused.

// NTLM negotiate flags (MS-NLMP 2.2.2.5).
const (
	ntlmUnicode       = 0x00000001
	ntlmRequestTarget = 0x00000004
	ntlmSign          = 0x00000010
	ntlmSeal          = 0x00000020
	ntlmNTLM          = 0x00000200
	ntlmAlwaysSign    = 0x00008000
	ntlmTargetDomain  = 0x00010000
	ntlmESS           = 0x00080000 // extended session security
	ntlmTargetInfo    = 0x00800000
	ntlmVersion       = 0x02000000
	ntlm128           = 0x20000000
	ntlmKeyExch       = 0x40000000
	ntlm56            = 0x80000000

	// ntlmServerFlags are the flags the fake can honour; the challenge
	// carries the intersection with what the client asked for.
	ntlmServerFlags = ntlmUnicode | ntlmRequestTarget | ntlmSign | ntlmSeal | ntlmNTLM | ntlmAlwaysSign |
		ntlmESS | ntlmTargetInfo | ntlmVersion | ntlm128 | ntlmKeyExch | ntlm56
)

var ntlmSignature = []byte("NTLMSSP\x00")

// AV pair IDs (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0
	avNbComputerName  = 1
	avNbDomainName    = 2
	avDNSComputerName = 3
	avDNSDomainName   = 4
	avFlags           = 6
	avTimestamp       = 7
)

// ntlmServer is one connection's NTLM handshake and, once authenticated, its
// security context.
type ntlmServer struct {
	negotiate, challenge []byte
	serverChallenge      [8]byte
	flags                uint32
	session              *ntlmSession // set once authenticated
	user                 string       // as the client sent it, DOMAIN\user
}

// ntlmCredentials is the one account the fake accepts.
type ntlmCredentials struct {
	user, password string
}

// accepts reports whether the account name the client sent (user and domain
// from the AUTHENTICATE message) is the configured account: the user names
// must be equal ignoring case, and when the configured name has a domain
// ("DOMAIN\user" or "user@domain") the domains too.
func (c ntlmCredentials) accepts(user, domain string) bool {
	wantUser, wantDomain := splitAccount(c.user)
	if !strings.EqualFold(user, wantUser) {
		return false
	}
	return wantDomain == "" || domain == "" || strings.EqualFold(domain, wantDomain) ||
		strings.EqualFold(strings.SplitN(wantDomain, ".", 2)[0], domain)
}

// splitAccount splits "DOMAIN\user" and "user@domain" into user and domain.
func splitAccount(account string) (user, domain string) {
	if d, u, ok := strings.Cut(account, `\`); ok {
		return u, d
	}
	if u, d, ok := strings.Cut(account, "@"); ok {
		return u, d
	}
	return account, ""
}

// handleNegotiate reads a NEGOTIATE message and returns the CHALLENGE.
func (n *ntlmServer) handleNegotiate(msg []byte, computer, domain string) ([]byte, error) {
	if len(msg) < 16 || !bytes.Equal(msg[:8], ntlmSignature) || binary.LittleEndian.Uint32(msg[8:]) != 1 {
		return nil, errors.New("not an NTLM NEGOTIATE message")
	}
	clientFlags := binary.LittleEndian.Uint32(msg[12:])
	*n = ntlmServer{negotiate: append([]byte(nil), msg...)}
	if _, err := rand.Read(n.serverChallenge[:]); err != nil {
		return nil, err
	}
	n.flags = clientFlags&ntlmServerFlags | ntlmNTLM | ntlmTargetInfo | ntlmTargetDomain | ntlmUnicode
	target := utf16le(strings.ToUpper(domain))
	info := avPairs(computer, domain)
	const header = 56
	var b bytes.Buffer
	b.Write(ntlmSignature)
	le32(&b, 2)
	field(&b, len(target), header)
	le32(&b, n.flags)
	b.Write(n.serverChallenge[:])
	b.Write(make([]byte, 8))
	field(&b, len(info), header+len(target))
	b.Write([]byte{10, 0, 0x63, 0x45, 0, 0, 0, 15}) // version 10.0.17763, NTLM revision 15
	b.Write(target)
	b.Write(info)
	n.challenge = b.Bytes()
	return n.challenge, nil
}

func avPairs(computer, domain string) []byte {
	var b bytes.Buffer
	pair := func(id uint16, v []byte) {
		_ = binary.Write(&b, binary.LittleEndian, id)
		_ = binary.Write(&b, binary.LittleEndian, uint16(len(v)))
		b.Write(v)
	}
	pair(avNbDomainName, utf16le(strings.ToUpper(domain)))
	pair(avNbComputerName, utf16le(strings.ToUpper(computer)))
	pair(avDNSDomainName, utf16le(strings.ToLower(domain)))
	pair(avDNSComputerName, utf16le(strings.ToLower(computer)))
	ts := make([]byte, 8)
	binary.LittleEndian.PutUint64(ts, fileTime(time.Now()))
	pair(avTimestamp, ts)
	pair(avEOL, nil)
	return b.Bytes()
}

// fileTime is t in 100 ns ticks since 1601-01-01 (a Windows FILETIME).
func fileTime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// handleAuthenticate verifies an AUTHENTICATE message. On success the
// connection is authenticated and, when the client negotiated signing or
// sealing, has a security context.
func (n *ntlmServer) handleAuthenticate(msg []byte, cred ntlmCredentials) error {
	if n.challenge == nil {
		return errors.New("AUTHENTICATE without a preceding NEGOTIATE on this connection")
	}
	if len(msg) < 64 || !bytes.Equal(msg[:8], ntlmSignature) || binary.LittleEndian.Uint32(msg[8:]) != 3 {
		return errors.New("not an NTLM AUTHENTICATE message")
	}
	get := func(off int) ([]byte, error) {
		l := int(binary.LittleEndian.Uint16(msg[off:]))
		o := int(binary.LittleEndian.Uint32(msg[off+4:]))
		if o < 0 || o+l > len(msg) {
			return nil, fmt.Errorf("field at %d points outside the message", off)
		}
		return msg[o : o+l], nil
	}
	ntResp, err := get(20)
	if err != nil {
		return err
	}
	domainB, err := get(28)
	if err != nil {
		return err
	}
	userB, err := get(36)
	if err != nil {
		return err
	}
	encKey, err := get(52)
	if err != nil {
		return err
	}
	flags := binary.LittleEndian.Uint32(msg[60:])
	if len(ntResp) <= 24 {
		return errors.New("LM/NTLMv1 responses are refused (only NTLMv2 is accepted)")
	}
	user, domain := fromUTF16le(userB), fromUTF16le(domainB)
	if !cred.accepts(user, domain) {
		return fmt.Errorf("unknown account %q", user)
	}
	// NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)),
	// UNICODE(ConcatenationOf(Uppercase(User), UserDom))), with the user and
	// domain as the client sent them.
	h := md4.New()
	h.Write(utf16le(cred.password))
	ntowf := hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
	proof, temp := ntResp[:16], ntResp[16:]
	want := hmacMD5(ntowf, append(n.serverChallenge[:], temp...))
	if subtle.ConstantTimeCompare(proof, want) != 1 {
		return errors.New("NTLMv2 response does not match the password")
	}
	keyExchangeKey := hmacMD5(ntowf, proof) // SessionBaseKey = KeyExchangeKey for NTLMv2
	exported := keyExchangeKey
	if flags&ntlmKeyExch != 0 && len(encKey) == 16 {
		c, _ := rc4.NewCipher(keyExchangeKey)
		exported = make([]byte, 16)
		c.XORKeyStream(exported, encKey)
	}
	if micSent(temp) {
		if len(msg) < 88 {
			return errors.New("MIC announced but the message is too short to hold it")
		}
		zeroed := append([]byte(nil), msg...)
		copy(zeroed[72:88], make([]byte, 16))
		mic := hmacMD5(exported, bytes.Join([][]byte{n.negotiate, n.challenge, zeroed}, nil))
		if !hmac.Equal(mic, msg[72:88]) {
			return errors.New("MIC does not match (message altered)")
		}
	}
	n.flags = flags
	n.user = user
	if domain != "" {
		n.user = domain + `\` + user
	}
	if flags&(ntlmSeal|ntlmSign) != 0 {
		n.session = newNTLMSession(flags, exported)
	} else {
		n.session = &ntlmSession{}
	}
	return nil
}

// micSent reports whether the NTLMv2 client blob's AV pairs carry MsvAvFlags
// with bit 0x2 ("the client is providing a MIC").
func micSent(temp []byte) bool {
	if len(temp) < 28 {
		return false
	}
	av := temp[28:]
	for len(av) >= 4 {
		id := binary.LittleEndian.Uint16(av)
		l := int(binary.LittleEndian.Uint16(av[2:]))
		if id == avEOL || 4+l > len(av) {
			return false
		}
		if id == avFlags && l == 4 {
			return binary.LittleEndian.Uint32(av[4:])&0x2 != 0
		}
		av = av[4+l:]
	}
	return false
}

// ntlmSession seals and unseals messages with the keys of one
// authentication (MS-NLMP 3.4: connection-oriented, extended session
// security; the RC4 handles and sequence numbers continue from one message
// to the next).
type ntlmSession struct {
	flags           uint32
	inSign, outSign []byte
	inSeal, outSeal *rc4.Cipher
	inSeq, outSeq   uint32
	established     bool
}

var (
	clientSigningMagic = []byte("session key to client-to-server signing key magic constant\x00")
	serverSigningMagic = []byte("session key to server-to-client signing key magic constant\x00")
	clientSealingMagic = []byte("session key to client-to-server sealing key magic constant\x00")
	serverSealingMagic = []byte("session key to server-to-client sealing key magic constant\x00")
)

func newNTLMSession(flags uint32, key []byte) *ntlmSession {
	sealKey := func(magic []byte) []byte {
		k := key
		switch {
		case flags&ntlm128 != 0:
		case flags&ntlm56 != 0:
			k = key[:7]
		default:
			k = key[:5]
		}
		s := md5.Sum(append(append([]byte(nil), k...), magic...))
		return s[:]
	}
	signKey := func(magic []byte) []byte {
		s := md5.Sum(append(append([]byte(nil), key...), magic...))
		return s[:]
	}
	in, _ := rc4.NewCipher(sealKey(clientSealingMagic))
	out, _ := rc4.NewCipher(sealKey(serverSealingMagic))
	return &ntlmSession{
		flags: flags, established: true,
		inSign: signKey(clientSigningMagic), outSign: signKey(serverSigningMagic),
		inSeal: in, outSeal: out,
	}
}

// canSeal reports whether the session negotiated sealing with extended
// session security, which WinRM message encryption needs.
func (s *ntlmSession) canSeal() bool {
	return s != nil && s.established && s.flags&ntlmSeal != 0 && s.flags&ntlmESS != 0
}

// unseal decrypts a client message and checks its signature (MS-NLMP
// 3.4.4.2: version 1, RC4 of the first 8 bytes of
// HMAC_MD5(SigningKey, SeqNum || Message), SeqNum).
func (s *ntlmSession) unseal(sealed, sig []byte) ([]byte, error) {
	if len(sig) != 16 || binary.LittleEndian.Uint32(sig) != 1 {
		return nil, errors.New("NTLM signature is not 16 bytes of version 1")
	}
	msg := make([]byte, len(sealed))
	s.inSeal.XORKeyStream(msg, sealed)
	want := s.mac(s.inSign, s.inSeal, s.inSeq, msg)
	if !hmac.Equal(want, sig) {
		return nil, fmt.Errorf("NTLM signature does not match (sequence number %d)", s.inSeq)
	}
	s.inSeq++
	return msg, nil
}

// seal encrypts a server message and returns it with its signature.
func (s *ntlmSession) seal(msg []byte) (sealed, sig []byte) {
	sealed = make([]byte, len(msg))
	s.outSeal.XORKeyStream(sealed, msg)
	sig = s.mac(s.outSign, s.outSeal, s.outSeq, msg)
	s.outSeq++
	return sealed, sig
}

func (s *ntlmSession) mac(signKey []byte, handle *rc4.Cipher, seq uint32, msg []byte) []byte {
	seqB := make([]byte, 4)
	binary.LittleEndian.PutUint32(seqB, seq)
	checksum := hmacMD5(signKey, append(seqB, msg...))[:8]
	if s.flags&ntlmKeyExch != 0 {
		handle.XORKeyStream(checksum, checksum)
	}
	out := make([]byte, 0, 16)
	out = binary.LittleEndian.AppendUint32(out, 1)
	out = append(out, checksum...)
	return append(out, seqB...)
}

func hmacMD5(key, data []byte) []byte {
	m := hmac.New(md5.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func fromUTF16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func le32(b *bytes.Buffer, v uint32) { _ = binary.Write(b, binary.LittleEndian, v) }

// field writes an NTLM payload field header: length, maximum length, offset.
func field(b *bytes.Buffer, length, offset int) {
	_ = binary.Write(b, binary.LittleEndian, uint16(length))
	_ = binary.Write(b, binary.LittleEndian, uint16(length))
	le32(b, uint32(offset))
}
