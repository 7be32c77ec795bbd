// Portero from Go: a token with golang.org/x/oauth2/clientcredentials (cached and renewed before
// it expires by the package itself), a webhook endpoint served by this program, a message through
// /Services, its status until it is final, and its webhook verified as the Standard Webhooks
// specification says. Retry-After is honoured on 429 and 503.
//
// With `npm start` running it needs nothing: it reads the demo's credentials from
// .wrangler/portero-dev.json. Elsewhere, set the PORTERO_* variables (README.md).
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

type devFile struct {
	Base         string `json:"base"`
	ServiceToken string `json:"serviceToken"`
	ServiceID    int    `json:"serviceId"`
	UserID       string `json:"userId"`
	Clients      []struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	} `json:"clients"`
}

func setting(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	if fallback == "" {
		log.Fatalf("set %s (or run npm start)", name)
	}
	return fallback
}

// api sends a JSON request with the client's token, honouring Retry-After on 429 and 503.
func api(client *http.Client, method, url string, body any, headers map[string]string, out any) error {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	for retry := 0; ; retry++ {
		request, err := http.NewRequest(method, url, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			request.Header.Set("Content-Type", "application/json")
		}
		for k, v := range headers {
			request.Header.Set(k, v)
		}
		response, err := client.Do(request)
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(response.Body)
		response.Body.Close()
		if (response.StatusCode == 429 || response.StatusCode == 503) && retry < 2 {
			wait, err := strconv.Atoi(response.Header.Get("Retry-After"))
			if err != nil {
				wait = 1 << retry
			}
			if wait <= 60 {
				time.Sleep(time.Duration(wait) * time.Second)
				continue
			}
		}
		if response.StatusCode >= 400 {
			// RFC 9457 problem details: `code` for programs, `detail` for people.
			return fmt.Errorf("%s %s: %d %s", method, url, response.StatusCode, data)
		}
		if out != nil && len(data) > 0 {
			return json.Unmarshal(data, out)
		}
		return nil
	}
}

// verifyWebhook checks a request as Standard Webhooks says: HMAC-SHA256 keyed with the secret
// after `whsec_`, over "{id}.{timestamp}.{body}"; one v1 signature is enough; 5 minutes of skew.
func verifyWebhook(secret string, body []byte, header http.Header) error {
	id, timestamp := header.Get("webhook-id"), header.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		return errors.New("webhook-timestamp too far from now")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, timestamp)
	mac.Write(body)
	expected := mac.Sum(nil)
	for _, signature := range strings.Split(header.Get("webhook-signature"), " ") {
		version, value, _ := strings.Cut(signature, ",")
		given, err := base64.StdEncoding.DecodeString(value)
		if version == "v1" && err == nil && hmac.Equal(given, expected) {
			return nil
		}
	}
	return errors.New("no webhook signature matches")
}

type received struct {
	body   []byte
	header http.Header
}

func main() {
	var dev devFile
	devPath := setting("PORTERO_DEV_FILE", "../../.wrangler/portero-dev.json")
	if data, err := os.ReadFile(devPath); err == nil {
		_ = json.Unmarshal(data, &dev)
	}
	demoSecret := ""
	for _, c := range dev.Clients {
		if c.ID == "demo-client" {
			demoSecret = c.Secret
		}
	}
	portero := setting("PORTERO_URL", dev.Base)
	serviceID, _ := strconv.Atoi(setting("PORTERO_SERVICE_ID", strconv.Itoa(dev.ServiceID)))
	providerID, _ := strconv.Atoi(setting("PORTERO_PROVIDER_ID", "1001"))

	// 1. Tokens: the package asks for one, keeps it, and asks again shortly before it expires.
	credentials := clientcredentials.Config{
		ClientID:     setting("PORTERO_CLIENT_ID", "demo-client"),
		ClientSecret: setting("PORTERO_CLIENT_SECRET", demoSecret),
		TokenURL:     portero + "/oauth/token",
	}
	client := credentials.Client(context.Background())
	token, err := credentials.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("token: %s…\n", token.AccessToken[:20])

	// 2. A webhook endpoint served here. Portero accepts a localhost endpoint only while it runs on
	// localhost itself; elsewhere WEBHOOK_URL is your public https endpoint in front of it.
	hooks := make(chan received, 16)
	listener, err := net.Listen("tcp", "localhost:"+setting("WEBHOOK_PORT", "0"))
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooks <- received{body, r.Header.Clone()}
		w.WriteHeader(http.StatusNoContent)
	}))
	url := setting("WEBHOOK_URL", fmt.Sprintf("http://localhost:%d/hooks", listener.Addr().(*net.TCPAddr).Port))
	var endpoint struct{ ID, Secret string }
	err = api(client, "POST", portero+"/webhooks", map[string]any{
		"url":         url,
		"event_types": []string{"message.delivered", "message.undelivered", "message.failed", "message.dead"},
	}, nil, &endpoint)
	if err != nil {
		log.Fatal(err)
	}
	defer api(client, "DELETE", portero+"/webhooks/"+endpoint.ID, nil, nil, nil)
	fmt.Println("webhook endpoint:", endpoint.ID)

	// 3. A message through /Services; the same Idempotency-Key never sends it twice.
	key := make([]byte, 16)
	rand.Read(key)
	var message struct{ ID, Status string }
	err = api(client, "POST", portero+"/Services", map[string]any{
		"provider_id":   providerID,
		"service_token": setting("PORTERO_SERVICE_TOKEN", dev.ServiceToken),
		"service_id":    serviceID,
		"parameters": map[string]any{
			"destination": setting("PORTERO_DESTINATION", dev.UserID),
			"notification": map[string]string{
				"title": "Turno", "message": "Oftalmologo lunes 9:15", "channel": "SMS",
			},
		},
	}, map[string]string{"Idempotency-Key": fmt.Sprintf("%x", key)}, &message)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("message:", message.ID, message.Status)

	// 4. Its status until it is final.
	status := message.Status
	for i := 0; i < 60 && (status == "queued" || status == "sending" || status == "sent"); i++ {
		time.Sleep(500 * time.Millisecond)
		var read struct{ Status string }
		if err := api(client, "GET", portero+"/Services/messages/"+message.ID, nil, nil, &read); err != nil {
			log.Fatal(err)
		}
		status = read.Status
	}
	fmt.Println("status:", status)

	// 5. Its webhook, verified before it is trusted.
	timeout := time.After(30 * time.Second)
	for {
		select {
		case hook := <-hooks:
			if err := verifyWebhook(endpoint.Secret, hook.body, hook.header); err != nil {
				log.Fatal(err)
			}
			var event struct {
				Type string
				Data struct {
					MessageID string `json:"message_id"`
				}
			}
			_ = json.Unmarshal(hook.body, &event)
			if event.Data.MessageID == message.ID {
				fmt.Println("webhook:", event.Type, hook.header.Get("webhook-id"), "signature verified")
				return
			}
		case <-timeout:
			log.Fatal("no webhook arrived")
		}
	}
}
