#!/usr/bin/env bash
# Verifies a webhook from Portero as the Standard Webhooks specification says, with openssl:
# HMAC-SHA256 keyed with the base64-decoded secret after `whsec_`, over
# "{webhook-id}.{webhook-timestamp}.{body}", compared with each `v1,` signature of the header;
# and a timestamp within 5 minutes of now.
#   verify-webhook.sh SECRET WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < raw-body
# Exits 0 when one signature matches, 1 otherwise.
set -euo pipefail

secret=$1 id=$2 timestamp=$3 signatures=$4
body=$(cat; printf x) # keep trailing newlines: the signature covers the body byte for byte
body=${body%x}

now=$(date +%s)
if ! [[ $timestamp =~ ^[0-9]+$ ]] || ((timestamp < now - 300 || timestamp > now + 300)); then
  echo "webhook-timestamp $timestamp is more than 5 minutes from now" >&2
  exit 1
fi

key=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -vtx1 | tr -d ' \n')
expected=$(printf '%s' "$id.$timestamp.$body" |
  openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64)

for signature in $signatures; do
  if [[ $signature == "v1,$expected" ]]; then
    exit 0
  fi
done
echo "no signature matches" >&2
exit 1
