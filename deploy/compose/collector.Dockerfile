# otelcol-flux from the project's Collector module, in two stages: the Go
# toolchain builds a static binary, and the runtime image holds only it.
# Build from the repository root: docker build -f deploy/compose/collector.Dockerfile .
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
COPY collector-config/otelcol-flux/go.mod collector-config/otelcol-flux/go.sum ./
RUN go mod download
COPY collector-config/otelcol-flux/*.go ./
# The version matches go.opentelemetry.io/collector/otelcol in go.mod, as
# deploy/local/build-binaries.sh stamps it.
RUN go build -trimpath -mod=readonly -ldflags "-s -w -X main.version=v0.165.0" \
    -o /out/otelcol-flux .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/otelcol-flux /otelcol-flux
COPY collector-config/otelcol-flux.yaml /etc/otelcol-flux/otelcol-flux.yaml
EXPOSE 4317 4318 8888 8889 13133
ENTRYPOINT ["/otelcol-flux"]
CMD ["--config=/etc/otelcol-flux/otelcol-flux.yaml"]
