package idp

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fleetpane/testenv/internal/proc"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func serverDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "idp"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH")
	}
}

func startForTest(t *testing.T, cfg Config) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inst, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := Stop(cfg.Dir); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if proc.Alive(inst.PID) {
			t.Errorf("pid %d still alive after Stop", inst.PID)
		}
	})
	return inst
}

func readSecret(t *testing.T, inst *Instance, client string) string {
	t.Helper()
	b, err := os.ReadFile(inst.ClientSecretFiles[client])
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestLoginFlow starts the real provider (node + oidc-provider) and runs the
// whole authorization-code + PKCE flow with plain HTTP requests, then
// UserInfo, refresh, and RP-initiated logout.
func TestLoginFlow(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	addr := freeAddr(t)
	cfg := DefaultConfig(t.TempDir(), serverDir(t), addr)
	cfg.IDTokenTTL = 90 * time.Second
	inst := startForTest(t, cfg)
	if !inst.Started || inst.Issuer != "http://"+addr {
		t.Fatalf("instance %+v", inst)
	}

	d, err := FetchDiscovery(ctx, http.DefaultClient, inst.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"openid", "email", "profile", "groups", "offline_access"} {
		if !slices.Contains(d.ScopesSupported, s) {
			t.Errorf("scope %s not in scopes_supported %v", s, d.ScopesSupported)
		}
	}
	if !slices.Contains(d.CodeChallengeMethods, "S256") || d.EndSessionEndpoint == "" {
		t.Errorf("discovery: %+v", d)
	}

	secret := readSecret(t, inst, DefaultClientID)
	redirect := DefaultFleetpaneURL + "/auth/callback"

	// PKCE is required: an authorization request without it is refused.
	noPKCE := inst.Issuer + "/auth?" + url.Values{
		"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {redirect},
		"scope": {"openid"}, "state": {"s"},
	}.Encode()
	resp, err := newSession(redirect).Get(noPKCE)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=invalid_request") || !strings.Contains(loc, "PKCE") {
		t.Errorf("authorize without PKCE: %d %s", resp.StatusCode, loc)
	}
	tok, err := Login(ctx, LoginRequest{
		Issuer: inst.Issuer, ClientID: DefaultClientID, ClientSecret: secret, RedirectURI: redirect,
		Email: "alice@example.com", Password: "alice-password", Prompt: "consent",
	})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if g := StringSlice(tok.Claims, "groups"); !slices.Equal(g, []string{"sre"}) {
		t.Errorf("id_token groups = %v, want [sre]; claims %v", g, tok.Claims)
	}
	if tok.Claims["email"] != "alice@example.com" || tok.Claims["email_verified"] != true {
		t.Errorf("id_token email claims: %v", tok.Claims)
	}
	if iat, exp := tok.Claims["iat"].(float64), tok.Claims["exp"].(float64); exp-iat != 90 {
		t.Errorf("id_token lifetime %v s, want 90", exp-iat)
	}
	if tok.RefreshToken == "" {
		t.Errorf("no refresh token (scope %q)", tok.Scope)
	}

	ui, err := UserInfo(ctx, inst.Issuer, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if g := StringSlice(ui, "groups"); !slices.Equal(g, []string{"sre"}) || ui["email"] != "alice@example.com" {
		t.Errorf("userinfo = %v", ui)
	}

	ref, err := Refresh(ctx, inst.Issuer, DefaultClientID, secret, tok.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if ref.AccessToken == "" || !slices.Equal(StringSlice(ref.Claims, "groups"), []string{"sre"}) {
		t.Errorf("refresh: %+v", ref)
	}

	loc, err := Logout(ctx, tok, inst.Issuer, DefaultFleetpaneURL+"/")
	if err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if !strings.HasPrefix(loc.String(), DefaultFleetpaneURL+"/") {
		t.Errorf("logout redirected to %s", loc)
	}

	// Other users, client_secret_post, and a wrong password.
	tok, err = Login(ctx, LoginRequest{
		Issuer: inst.Issuer, ClientID: DefaultClientID, ClientSecret: secret,
		RedirectURI: "http://localhost:3000/auth/callback", PostAuth: true,
		Email: "carol@example.com", Password: "carol-password",
	})
	if err != nil {
		t.Fatalf("Login carol: %v", err)
	}
	if g := StringSlice(tok.Claims, "groups"); len(g) != 0 {
		t.Errorf("carol groups = %v, want []", g)
	}
	if tok.RefreshToken != "" || strings.Contains(tok.Scope, "offline_access") {
		t.Errorf("offline_access without prompt=consent gave scope %q, refresh token %q", tok.Scope, tok.RefreshToken)
	}
	_, err = Login(ctx, LoginRequest{
		Issuer: inst.Issuer, ClientID: DefaultClientID, ClientSecret: secret, RedirectURI: redirect,
		Email: "bob@example.com", Password: "wrong",
	})
	var le *LoginError
	if !errors.As(err, &le) || le.Status != 401 || !strings.Contains(le.Body, "Invalid email or password") {
		t.Errorf("wrong password: %v", err)
	}

	// A second Start with the same config leaves the instance alone.
	again, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Started || again.PID != inst.PID {
		t.Errorf("second Start restarted: %+v", again)
	}

	// The port is now taken: another instance there fails with a clear error.
	other := DefaultConfig(t.TempDir(), serverDir(t), addr)
	other.Name = "clash"
	_, err = Start(ctx, other)
	var pe *proc.PortInUseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "idp[clash]") {
		t.Errorf("port clash: %v", err)
	}
}

// TestSecondProvider runs a second instance with its own users and a
// one-click consent page next to the first.
func TestSecondProvider(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	first := startForTest(t, DefaultConfig(t.TempDir(), serverDir(t), freeAddr(t)))
	second := Config{
		Name: "second", Dir: t.TempDir(), ServerDir: serverDir(t), Listen: freeAddr(t),
		Title:       "Second IdP",
		Clients:     []Client{FleetpaneClient(DefaultFleetpaneURL)},
		Users:       []User{{Email: "erin@corp.example", Password: "erin-password", Groups: []string{"team-b", "sre"}}},
		ConsentPage: true,
	}
	inst2 := startForTest(t, second)
	if first.Issuer == inst2.Issuer {
		t.Fatal("same issuer")
	}
	tok, err := Login(ctx, LoginRequest{
		Issuer: inst2.Issuer, ClientID: DefaultClientID, ClientSecret: readSecret(t, inst2, DefaultClientID),
		RedirectURI: DefaultFleetpaneURL + "/auth/callback", Email: "erin@corp.example", Password: "erin-password",
	})
	if err != nil {
		t.Fatalf("Login on second: %v", err)
	}
	if g := StringSlice(tok.Claims, "groups"); !slices.Equal(g, []string{"team-b", "sre"}) || tok.Claims["sub"] != "erin" {
		t.Errorf("second provider claims: %v", tok.Claims)
	}
	// alice does not exist there.
	if _, err := Login(ctx, LoginRequest{
		Issuer: inst2.Issuer, ClientID: DefaultClientID, ClientSecret: readSecret(t, inst2, DefaultClientID),
		RedirectURI: DefaultFleetpaneURL + "/auth/callback", Email: "alice@example.com", Password: "alice-password",
	}); err == nil {
		t.Error("alice logged in on the second provider")
	}
}

func TestRenderConfig(t *testing.T) {
	cfg := DefaultConfig("/state/idp", "/repo/testenv/idp", "")
	if err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	b, err := renderConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"issuer": "http://127.0.0.1:15556"`,
		`"client_secret_file": "/state/idp/client-secret"`,
		`"http://127.0.0.1:3000/auth/callback"`,
		`"http://localhost:3000/auth/callback"`,
		`"http://127.0.0.1:3000/auth/callback/local"`,
		`"http://localhost:3000/auth/callback/local"`,
		`"post_logout_redirect_uris": [`,
		`"email": "dave@example.com"`,
		`"groups": []`,
		`"id_token_ttl_seconds": 300`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config lacks %s:\n%s", want, s)
		}
	}
	bad := Config{Dir: "/x", ServerDir: "/y", Listen: "0.0.0.0:1"}
	if err := bad.normalize(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback listen accepted: %v", err)
	}
}

// TestRunningFleet logs every user of a running fleet in (only when
// FLEETPANE_TESTENV_DIR names a state dir with fleet.json, e.g. after
// `testenv up`): go test ./internal/idp -run TestRunningFleet -v
func TestRunningFleet(t *testing.T) {
	dir := os.Getenv("FLEETPANE_TESTENV_DIR")
	b, err := os.ReadFile(filepath.Join(dir, "fleet.json"))
	if dir == "" || err != nil {
		t.Skip("no running fleet (set FLEETPANE_TESTENV_DIR to a state dir with fleet.json)")
	}
	var fleet struct {
		IDP struct {
			Issuer           string `json:"issuer"`
			ClientID         string `json:"client_id"`
			ClientSecretFile string `json:"client_secret_file"`
			Users            []User `json:"users"`
		} `json:"idp"`
		FleetpaneURL string `json:"fleetpane_url"`
	}
	if err := json.Unmarshal(b, &fleet); err != nil {
		t.Fatal(err)
	}
	sec, err := os.ReadFile(fleet.IDP.ClientSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	if fleet.FleetpaneURL == "" {
		fleet.FleetpaneURL = DefaultFleetpaneURL
	}
	if len(fleet.IDP.Users) == 0 {
		t.Fatal("fleet.json lists no IdP users")
	}
	for _, u := range fleet.IDP.Users {
		tok, err := Login(context.Background(), LoginRequest{
			Issuer: fleet.IDP.Issuer, ClientID: fleet.IDP.ClientID, ClientSecret: strings.TrimSpace(string(sec)),
			RedirectURI: strings.TrimRight(fleet.FleetpaneURL, "/") + "/auth/callback",
			Email:       u.Email, Password: u.Password, Prompt: "consent",
		})
		if err != nil {
			t.Errorf("%s: %v", u.Email, err)
			continue
		}
		if g := StringSlice(tok.Claims, "groups"); !slices.Equal(g, nonNil(u.Groups)) || tok.RefreshToken == "" {
			t.Errorf("%s: groups %v (want %v), refresh token %t", u.Email, g, u.Groups, tok.RefreshToken != "")
		}
		t.Logf("%s: sub=%v groups=%v", u.Email, tok.Claims["sub"], tok.Claims["groups"])
	}
}
