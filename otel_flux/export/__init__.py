"""OTLP span export with a direct protobuf encoder."""
