# syntax=docker/dockerfile:1
#
# finesse-notify: a static binary on a distroless base, run as non-root.
#
#   docker build -t finesse-notify .
#   docker run --rm -p 7443:7443 -p 7071:7071 -p 8445:8445 -p 5222:5222 -p 5223:5223 finesse-notify

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/finesse-notify ./cmd/finesse-notify

# distroless/static: no shell, no package manager; CA certificates, /etc/passwd
# and the nonroot user (uid 65532) only.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/finesse-notify /usr/local/bin/finesse-notify
USER nonroot:nonroot
# 7443 HTTPS BOSH/WebSocket, 7071 HTTP BOSH/WebSocket + /tls/certificate.pem
# + /metrics, 8445 HTTPS (REST, BOSH, WebSocket, /metrics), 5222 XMPP with
# STARTTLS, 5223 XMPP over direct TLS. All above 1024: no privilege needed.
EXPOSE 7443 7071 8445 5222 5223
ENTRYPOINT ["/usr/local/bin/finesse-notify"]
