package asterisktest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"

	"github.com/voipshield/tfps/asterisktest"
)

// Through the proxy an ARI client works as directly; a dropped websocket
// is opened again by the client, and refused requests fail while the
// websocket stays.
func TestProxyDropsWebsocketsAndRefusesRequests(t *testing.T) {
	a := asterisktest.Start(t)
	p := a.Proxy(t)
	opts := a.Options("viaproxy", false)
	opts.URL, opts.WebsocketURL = p.URL, "ws"+p.URL[len("http"):]+"/events"
	cl, err := native.Connect(opts)
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	t.Cleanup(cl.Close)
	key := ari.NewKey(ari.ApplicationKey, "viaproxy")
	if _, err := cl.Application().Data(key); err != nil {
		t.Fatalf("application through the proxy: %v", err)
	}
	if n := p.DropWebsockets(); n != 1 {
		t.Fatalf("dropped %d websockets, want 1", n)
	}
	deadline := time.Now().Add(15 * time.Second)
	for p.Websockets() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the client did not open its websocket again within 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Refuse(func(r *http.Request) bool { return true })
	if _, err := cl.Application().Data(key); err == nil {
		t.Error("a refused request succeeded")
	}
	if n := p.Refuse(nil); n != 1 {
		t.Errorf("%d requests refused, want 1", n)
	}
	if _, err := cl.Application().Data(key); err != nil {
		t.Errorf("after the refusal ended: %v", err)
	}
	if p.Websockets() != 1 {
		t.Error("refusing requests closed the websocket")
	}
}
