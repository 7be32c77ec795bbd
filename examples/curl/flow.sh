#!/usr/bin/env bash
# Portero from the shell, with curl and jq: a token (OAuth 2.0 client credentials), a webhook
# endpoint, a message through /Services, its status until it is final, and its webhook verified.
# With `npm start` running it needs nothing: it reads the demo's credentials from
# .wrangler/portero-dev.json and uses the stand-in's webhook receiver as the endpoint. Elsewhere,
# set the variables below (and WEBHOOK_URL to an endpoint of yours; see README.md).
set -euo pipefail
cd "$(dirname "$0")"

DEV=${PORTERO_DEV_FILE:-../../.wrangler/portero-dev.json}
dev() { [[ -f $DEV ]] && jq -r "$1" "$DEV" || true; }

PORTERO=${PORTERO_URL:-$(dev .base)}
CLIENT_ID=${PORTERO_CLIENT_ID:-demo-client}
CLIENT_SECRET=${PORTERO_CLIENT_SECRET:-$(dev '.clients[] | select(.id == "demo-client") | .secret')}
SERVICE_TOKEN=${PORTERO_SERVICE_TOKEN:-$(dev .serviceToken)}
SERVICE_ID=${PORTERO_SERVICE_ID:-$(dev .serviceId)}
PROVIDER_ID=${PORTERO_PROVIDER_ID:-1001}
DESTINATION=${PORTERO_DESTINATION:-$(dev .userId)}
STAND_IN=${PORTERO_STAND_IN:-$(dev .standIn)}
RECEIVER=curl-example-$$
WEBHOOK_URL=${WEBHOOK_URL:-$STAND_IN/webhooks/receiver/$RECEIVER}

: "${PORTERO:?set PORTERO_URL (or run npm start)}" "${CLIENT_SECRET:?set PORTERO_CLIENT_SECRET}"
: "${SERVICE_TOKEN:?set PORTERO_SERVICE_TOKEN}"

# 1. A token. Keep it until shortly before expires_in runs out, then ask again.
TOKEN=$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \
  "$PORTERO/oauth/token" | jq -r .access_token)
echo "token: ${TOKEN:0:20}…"

# Every other call: the token, and Retry-After honoured on 429 and 503 (twice at most).
api() {
  local method=$1 path=$2 body=${3:-} headers out status wait
  local args=(-s -X "$method" "$PORTERO$path" -H "Authorization: Bearer $TOKEN")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [[ -n ${IDEMPOTENCY_KEY:-} ]] && args+=(-H "Idempotency-Key: $IDEMPOTENCY_KEY")
  headers=$(mktemp) out=$(mktemp)
  for attempt in 1 2 3; do
    status=$(curl "${args[@]}" -o "$out" -D "$headers" -w '%{http_code}')
    if [[ $status != 429 && $status != 503 ]] || ((attempt == 3)); then break; fi
    wait=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' "$headers")
    sleep "${wait:-1}"
  done
  cat "$out"
  rm -f "$headers" "$out"
  [[ $status =~ ^2 ]] || { echo "$method $path answered $status" >&2; return 1; }
}

# 2. A webhook endpoint for the final statuses; its secret is shown this once.
ENDPOINT=$(api POST /webhooks "$(jq -nc --arg url "$WEBHOOK_URL" \
  '{url: $url, event_types: ["message.delivered", "message.undelivered", "message.failed", "message.dead"]}')")
ENDPOINT_ID=$(jq -r .id <<<"$ENDPOINT")
WEBHOOK_SECRET=$(jq -r .secret <<<"$ENDPOINT")
trap 'api DELETE "/webhooks/$ENDPOINT_ID" >/dev/null || true' EXIT
echo "webhook endpoint: $ENDPOINT_ID"
if [[ $WEBHOOK_URL == "$STAND_IN/"* ]]; then
  # Development: the stand-in's receiver checks signatures too, once it knows the secret.
  curl -sf -X PUT "$STAND_IN/_control/webhooks/$RECEIVER" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg s "$WEBHOOK_SECRET" '{secrets: [$s]}')" >/dev/null
fi

# 3. A message through document 001's /Services; the same Idempotency-Key never sends it twice.
KEY=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || date +%s%N)
MESSAGE=$(IDEMPOTENCY_KEY=$KEY api POST /Services "$(jq -nc \
  --argjson provider "$PROVIDER_ID" --arg token "$SERVICE_TOKEN" --argjson service "$SERVICE_ID" \
  --arg destination "$DESTINATION" \
  '{provider_id: $provider, service_token: $token, service_id: $service,
    parameters: {destination: $destination,
      notification: {title: "Turno", message: "Oftalmologo lunes 9:15", channel: "SMS"}}}')")
MESSAGE_ID=$(jq -r .id <<<"$MESSAGE")
echo "message: $MESSAGE_ID $(jq -r .status <<<"$MESSAGE")"

# 4. Its status until it is final.
for _ in $(seq 60); do
  STATUS=$(api GET "/Services/messages/$MESSAGE_ID" | jq -r .status)
  case $STATUS in queued | sending | sent) sleep 0.5 ;; *) break ;; esac
done
echo "status: $STATUS"

# 5. Its webhook. In development the stand-in kept what it received; your endpoint would get the
# same request and check it the same way (verify-webhook.sh) before trusting it.
if [[ $WEBHOOK_URL == "$STAND_IN/"* ]]; then
  for _ in $(seq 60); do
    HOOK=$(curl -sf "$STAND_IN/_control/webhooks/$RECEIVER" |
      jq -c --arg m "$MESSAGE_ID" '[.received[] | select(.body.data.message_id == $m)][0] // empty')
    [[ -n $HOOK ]] && break
    sleep 0.5
  done
  [[ -n ${HOOK:-} ]] || { echo "no webhook arrived" >&2; exit 1; }
  jq -j .raw <<<"$HOOK" | ./verify-webhook.sh "$WEBHOOK_SECRET" "$(jq -r .id <<<"$HOOK")" \
    "$(jq -r .timestamp <<<"$HOOK")" "$(jq -r '.signatures | join(" ")' <<<"$HOOK")"
  echo "webhook: $(jq -r .body.type <<<"$HOOK") $(jq -r .id <<<"$HOOK") signature verified"
fi
