module portero.example/flow

go 1.23

require golang.org/x/oauth2 v0.27.0
