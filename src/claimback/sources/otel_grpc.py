"""OTLP over gRPC (port 4317) for `claimback otel serve --grpc`: the same receiver as OTLP/HTTP.

Most of Claude Code's monitoring examples set `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`. The gRPC services
(`opentelemetry.proto.collector.{logs,metrics}.v1.*Service/Export`) hand their request bytes, still
serialized, to the HTTP server's `receive_logs` / `receive_metrics`: one decoder, one ledger writer,
one set of counters for both transports. Optional: `pip install 'claimback[grpc]'` (grpcio, ~7 MB).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from claimback.errors import BadInput, ClaimbackError

if TYPE_CHECKING:
    from claimback.sources.otel_server import OtelServer

_PROTOBUF = "application/x-protobuf"
_SERVICES = {
    "opentelemetry.proto.collector.logs.v1.LogsService": "logs",
    "opentelemetry.proto.collector.metrics.v1.MetricsService": "metrics",
}


def require_grpc() -> None:
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise BadInput("OTLP over gRPC needs grpcio: pip install 'claimback[grpc]'") from None


def start_grpc(receiver: OtelServer, host: str, port: int, *, workers: int = 4) -> tuple[Any, int]:
    """Start a gRPC server feeding `receiver`; returns (server, bound port). Stop it with `.stop(grace)`."""
    require_grpc()
    import grpc
    from concurrent import futures

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    responses = {"logs": ExportLogsServiceResponse().SerializeToString(),
                 "metrics": ExportMetricsServiceResponse().SerializeToString()}

    def handler(kind: str):  # type: ignore[no-untyped-def]
        def export(body: bytes, context: Any) -> bytes:
            if receiver.token and not _authorized(context, receiver.token):
                context.abort(grpc.StatusCode.UNAUTHENTICATED,
                              "missing or wrong bearer token (metadata authorization: Bearer <token>)")
            try:
                if kind == "logs":
                    receiver.receive_logs(body, _PROTOBUF)
                else:
                    receiver.receive_metrics(body, _PROTOBUF)
            except BadInput as exc:
                receiver.count_rejected()
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except ClaimbackError as exc:  # OTLP exporters retry UNAVAILABLE
                context.abort(grpc.StatusCode.UNAVAILABLE, f"the ledger cannot take this batch now: {exc}")
            except Exception as exc:  # noqa: BLE001 - a database hiccup: retryable, keep serving
                if receiver.log:
                    receiver.log(f"error storing a gRPC batch: {type(exc).__name__}: {str(exc)[:200]}")
                context.abort(grpc.StatusCode.UNAVAILABLE, f"the ledger cannot take this batch now: {type(exc).__name__}")
            return responses[kind]
        return export

    limit = int(receiver.max_body)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         options=[("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)])
    for service, kind in _SERVICES.items():
        # bytes in, bytes out: the receiver decodes (and bounds) the request as it does for HTTP
        method = grpc.unary_unary_rpc_method_handler(handler(kind), request_deserializer=None,
                                                     response_serializer=None)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": method}),))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise BadInput(f"cannot listen for gRPC on {address}: {exc}") from None
    if not bound:
        raise BadInput(f"cannot listen for gRPC on {address} (port in use?)")
    server.start()
    return server, bound


def _authorized(context: Any, token: str) -> bool:
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return hmac.compare_digest(value[7:].encode(), token.encode())
    return False
