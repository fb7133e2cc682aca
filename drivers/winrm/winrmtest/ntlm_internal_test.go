package winrmtest

import (
	"testing"

	"github.com/bodgit/ntlmssp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handshake runs an NTLM handshake between github.com/bodgit/ntlmssp (the
// client behind masterzen/winrm's message encryption) and the fake's server
// side.
func handshake(t *testing.T, user, domain, password string, cred ntlmCredentials) (*ntlmssp.Client, *ntlmServer, error) {
	t.Helper()
	c, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(user, password), ntlmssp.SetDomain(domain), ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	require.NoError(t, err)
	neg, err := c.Authenticate(nil, nil)
	require.NoError(t, err)
	var srv ntlmServer
	chal, err := srv.handleNegotiate(neg, "fe01", "FARM")
	require.NoError(t, err)
	auth, err := c.Authenticate(chal, nil)
	require.NoError(t, err)
	return c, &srv, srv.handleAuthenticate(auth, cred)
}

func TestNTLMSealRoundTrip(t *testing.T) {
	c, srv, err := handshake(t, "deployer", "FARM", "pw", ntlmCredentials{user: `FARM\deployer`, password: "pw"})
	require.NoError(t, err)
	require.True(t, srv.session.canSeal())
	for _, msg := range []string{"<s:Envelope>first</s:Envelope>", "second", ""} {
		sealed, sig, err := c.SecuritySession().Wrap([]byte(msg))
		require.NoError(t, err)
		got, err := srv.session.unseal(sealed, sig)
		require.NoError(t, err)
		assert.Equal(t, msg, string(got))

		out, outSig := srv.session.seal([]byte("reply " + msg))
		back, err := c.SecuritySession().Unwrap(out, outSig)
		require.NoError(t, err, "the client must verify the fake's signature")
		assert.Equal(t, "reply "+msg, string(back))
	}
}

func TestNTLMRefusesTamperingAndReplay(t *testing.T) {
	c, srv, err := handshake(t, "deployer", "", "pw", ntlmCredentials{user: "deployer", password: "pw"})
	require.NoError(t, err)
	sealed, sig, err := c.SecuritySession().Wrap([]byte("<s:Envelope>stop</s:Envelope>"))
	require.NoError(t, err)
	tampered := append([]byte(nil), sealed...)
	tampered[3] ^= 1
	_, err = srv.session.unseal(tampered, sig)
	require.Error(t, err, "a changed byte must fail the signature")

	c2, srv2, err := handshake(t, "deployer", "", "pw", ntlmCredentials{user: "deployer", password: "pw"})
	require.NoError(t, err)
	first, sig1, _ := c2.SecuritySession().Wrap([]byte("one"))
	_, err = srv2.session.unseal(first, sig1)
	require.NoError(t, err)
	_, err = srv2.session.unseal(first, sig1)
	require.Error(t, err, "a replayed message has an old sequence number")
}

func TestNTLMRefusesWrongCredentials(t *testing.T) {
	_, _, err := handshake(t, "deployer", "", "wrong", ntlmCredentials{user: "deployer", password: "pw"})
	require.ErrorContains(t, err, "does not match the password")
	_, _, err = handshake(t, "intruder", "", "pw", ntlmCredentials{user: "deployer", password: "pw"})
	require.ErrorContains(t, err, "unknown account")
	_, _, err = handshake(t, "deployer", "OTHER", "pw", ntlmCredentials{user: `FARM\deployer`, password: "pw"})
	require.ErrorContains(t, err, "unknown account", "another domain's account")
}
