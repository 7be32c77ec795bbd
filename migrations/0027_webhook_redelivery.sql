-- A provider lists an endpoint's recent events and asks for some to be sent again
-- (decisions.md D40): the deliveries of one endpoint, by their state, without reading every
-- endpoint's.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status);
