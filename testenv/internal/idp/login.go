package idp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Discovery is the part of the OpenID discovery document that tests use.
type Discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

// FetchDiscovery GETs <issuer>/.well-known/openid-configuration.
func FetchDiscovery(ctx context.Context, hc *http.Client, issuer string) (*Discovery, error) {
	var d Discovery
	if err := getJSON(ctx, hc, strings.TrimRight(issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.300s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// LoginRequest describes a browserless authorization-code + PKCE login.
type LoginRequest struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURI  string
	// Scope defaults to "openid email profile groups offline_access".
	Scope    string
	Email    string
	Password string
	// Prompt is sent as the prompt parameter when set. oidc-provider (per
	// OpenID Connect Core 11) drops offline_access, and so issues no refresh
	// token, unless prompt contains "consent".
	Prompt string
	// PostAuth: use client_secret_post instead of client_secret_basic.
	PostAuth bool
}

// Tokens is the outcome of a successful Login.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	ExpiresIn    int
	Scope        string
	// Claims are the verified ID token's claims.
	Claims map[string]any
	// Session is the browser-like client holding the provider's session
	// cookies (for Logout).
	Session *http.Client
}

// LoginError is returned when the provider answered with an error or the
// credentials were refused.
type LoginError struct {
	Step   string
	Status int
	Body   string
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("login %s: HTTP %d: %.400s", e.Step, e.Status, e.Body)
}

var (
	reFormAction = regexp.MustCompile(`<form[^>]*\baction="([^"]+)"`)
	reLoginForm  = regexp.MustCompile(`<form[^>]*id="login-form"[^>]*>`)
	reAllowForm  = regexp.MustCompile(`<form[^>]*action="([^"]*/confirm)"`)
	reLogoutForm = regexp.MustCompile(`(?s)<form[^>]*id="op\.logoutForm"[^>]*action="([^"]+)"[^>]*>(.*?)</form>`)
	reHidden     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

func randomURLString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSession returns an HTTP client with a cookie jar that follows redirects
// except to the redirect URI prefix (which nobody may be serving).
func newSession(stopPrefix string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), stopPrefix) {
				return http.ErrUseLastResponse
			}
			if len(via) > 15 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return string(b)
}

// Login performs the whole authorization-code flow with PKCE S256 the way a
// browser would, with plain HTTP requests: authorize → login form → consent
// (automatic, or the one-click page) → redirect with code → token exchange.
// The ID token's signature (JWKS, RS256), issuer, audience, nonce and expiry
// are checked.
func Login(ctx context.Context, r LoginRequest) (*Tokens, error) {
	if r.Scope == "" {
		r.Scope = "openid email profile groups offline_access"
	}
	sess := newSession(r.RedirectURI)
	d, err := FetchDiscovery(ctx, sess, r.Issuer)
	if err != nil {
		return nil, err
	}
	verifier := randomURLString(32)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	state := randomURLString(16)
	nonce := randomURLString(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {r.ClientID},
		"redirect_uri":          {r.RedirectURI},
		"scope":                 {r.Scope},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	if r.Prompt != "" {
		q.Set("prompt", r.Prompt)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.AuthorizationEndpoint+"?"+q.Encode(), nil)
	resp, err := sess.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK || !reLoginForm.MatchString(body) {
		return nil, &LoginError{Step: "authorize (expected the login form)", Status: resp.StatusCode, Body: body}
	}
	m := reFormAction.FindStringSubmatch(reLoginForm.FindString(body))
	if m == nil {
		return nil, &LoginError{Step: "authorize (no form action)", Status: resp.StatusCode, Body: body}
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil, err
	}
	resp, err = postForm(ctx, sess, action.String(), url.Values{"email": {r.Email}, "password": {r.Password}})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	// Optional consent page.
	if resp.StatusCode == http.StatusOK {
		body = readBody(resp)
		m := reAllowForm.FindStringSubmatch(body)
		if m == nil {
			return nil, &LoginError{Step: "login", Status: resp.StatusCode, Body: body}
		}
		allow, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
		if err != nil {
			return nil, err
		}
		if resp, err = postForm(ctx, sess, allow.String(), url.Values{}); err != nil {
			return nil, fmt.Errorf("consent: %w", err)
		}
	}
	if resp.StatusCode/100 != 3 {
		return nil, &LoginError{Step: "login", Status: resp.StatusCode, Body: readBody(resp)}
	}
	readBody(resp)
	loc, err := resp.Location()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(loc.String(), r.RedirectURI) {
		return nil, fmt.Errorf("%w: ended at %s", ErrNoRedirect, loc)
	}
	cb := loc.Query()
	if e := cb.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization error %s: %s", e, cb.Get("error_description"))
	}
	if cb.Get("state") != state {
		return nil, fmt.Errorf("callback state %q, want %q", cb.Get("state"), state)
	}
	if iss := cb.Get("iss"); iss != "" && iss != d.Issuer {
		return nil, fmt.Errorf("callback iss %q, want %q", iss, d.Issuer)
	}
	code := cb.Get("code")
	if code == "" {
		return nil, fmt.Errorf("callback without code: %s", loc)
	}

	tok, err := tokenRequest(ctx, sess, d.TokenEndpoint, r.ClientID, r.ClientSecret, r.PostAuth, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {r.RedirectURI},
		"code_verifier": {verifier},
	})
	if err != nil {
		return nil, err
	}
	claims, err := VerifyIDToken(ctx, sess, d, tok.IDToken, r.ClientID)
	if err != nil {
		return nil, err
	}
	if claims["nonce"] != nonce {
		return nil, fmt.Errorf("id_token nonce %v, want %s", claims["nonce"], nonce)
	}
	tok.Claims = claims
	tok.Session = sess
	return tok, nil
}

func postForm(ctx context.Context, hc *http.Client, u string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return hc.Do(req)
}

type tokenResponse struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

func tokenRequest(ctx context.Context, hc *http.Client, endpoint, clientID, secret string, post bool, form url.Values) (*Tokens, error) {
	if post {
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !post {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, &LoginError{Step: "token (" + form.Get("grant_type") + ")", Status: resp.StatusCode, Body: body}
	}
	var tr tokenResponse
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &Tokens{IDToken: tr.IDToken, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, ExpiresIn: tr.ExpiresIn, Scope: tr.Scope}, nil
}

// Refresh exchanges a refresh token for new tokens.
func Refresh(ctx context.Context, issuer, clientID, secret, refreshToken string) (*Tokens, error) {
	d, err := FetchDiscovery(ctx, http.DefaultClient, issuer)
	if err != nil {
		return nil, err
	}
	tok, err := tokenRequest(ctx, http.DefaultClient, d.TokenEndpoint, clientID, secret, false, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	})
	if err != nil {
		return nil, err
	}
	if tok.IDToken != "" {
		if tok.Claims, err = VerifyIDToken(ctx, http.DefaultClient, d, tok.IDToken, clientID); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// UserInfo GETs the UserInfo endpoint with an access token.
func UserInfo(ctx context.Context, issuer, accessToken string) (map[string]any, error) {
	d, err := FetchDiscovery(ctx, http.DefaultClient, issuer)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.UserinfoEndpoint, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, &LoginError{Step: "userinfo", Status: resp.StatusCode, Body: body}
	}
	var out map[string]any
	return out, json.Unmarshal([]byte(body), &out)
}

// Logout runs RP-initiated logout in the session of a Login: GET
// end_session_endpoint with id_token_hint and post_logout_redirect_uri,
// submit the confirmation form, and return where the provider redirected to.
func Logout(ctx context.Context, t *Tokens, issuer, postLogoutRedirectURI string) (*url.URL, error) {
	d, err := FetchDiscovery(ctx, t.Session, issuer)
	if err != nil {
		return nil, err
	}
	state := randomURLString(8)
	q := url.Values{"id_token_hint": {t.IDToken}, "post_logout_redirect_uri": {postLogoutRedirectURI}, "state": {state}}
	sess := *t.Session
	sess.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), postLogoutRedirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.EndSessionEndpoint+"?"+q.Encode(), nil)
	resp, err := sess.Do(req)
	if err != nil {
		return nil, err
	}
	body := readBody(resp)
	m := reLogoutForm.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, &LoginError{Step: "end_session (expected the logout form)", Status: resp.StatusCode, Body: body}
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil, err
	}
	form := url.Values{}
	for _, h := range reHidden.FindAllStringSubmatch(m[2], -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	form.Set("logout", "yes")
	resp, err = postForm(ctx, &sess, action.String(), form)
	if err != nil {
		return nil, err
	}
	body = readBody(resp)
	if resp.StatusCode/100 != 3 {
		return nil, &LoginError{Step: "end_session confirm", Status: resp.StatusCode, Body: body}
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, err
	}
	if loc.Query().Get("state") != state {
		return nil, fmt.Errorf("logout redirect state %q, want %q", loc.Query().Get("state"), state)
	}
	return loc, nil
}

// VerifyIDToken checks an RS256 ID token against the provider's JWKS and
// its iss, aud and exp claims, and returns the claims.
func VerifyIDToken(ctx context.Context, hc *http.Client, d *Discovery, token, clientID string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("id_token: not a JWS compact serialization")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("id_token header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return nil, fmt.Errorf("id_token alg %q, want RS256", hdr.Alg)
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := getJSON(ctx, hc, d.JWKSURI, &jwks); err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	for _, k := range jwks.Keys {
		if k.Kty == "RSA" && (hdr.Kid == "" || k.Kid == hdr.Kid) {
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil {
				return nil, errors.New("jwks: bad RSA key encoding")
			}
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			break
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("jwks: no RSA key with kid %q", hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("id_token signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return nil, fmt.Errorf("id_token signature: %w", err)
	}
	var claims map[string]any
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("id_token payload: %w", err)
	}
	if claims["iss"] != d.Issuer {
		return nil, fmt.Errorf("id_token iss %v, want %s", claims["iss"], d.Issuer)
	}
	switch aud := claims["aud"].(type) {
	case string:
		if aud != clientID {
			return nil, fmt.Errorf("id_token aud %q, want %q", aud, clientID)
		}
	case []any:
		found := false
		for _, a := range aud {
			found = found || a == clientID
		}
		if !found {
			return nil, fmt.Errorf("id_token aud %v lacks %q", aud, clientID)
		}
	default:
		return nil, fmt.Errorf("id_token aud %v", claims["aud"])
	}
	exp, _ := claims["exp"].(float64)
	if time.Unix(int64(exp), 0).Before(time.Now().Add(-5 * time.Second)) {
		return nil, fmt.Errorf("id_token expired at %v", time.Unix(int64(exp), 0))
	}
	return claims, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// StringSlice returns a claim that is a JSON array of strings ([]string{} if absent).
func StringSlice(claims map[string]any, name string) []string {
	out := []string{}
	arr, _ := claims[name].([]any)
	for _, a := range arr {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
