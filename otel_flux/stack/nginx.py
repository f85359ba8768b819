"""nginx as the load balancer in front of several sample-service instances.

One function renders the config for both the local stack and the compose
deployment, so the proxy rules cannot drift apart. nginx is the edge: it
replaces any X-Forwarded-For header a client sends with the address of the
client's connection, so the instances, which trust only nginx, cannot be
fooled by a forged header. Behind another proxy, use nginx's realip module
there instead of passing the header on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Path that nginx serves itself, without an instance, so its own health can be
# probed apart from the instances behind it.
HEALTH_PATH = "/-/nginx/health"

# Maximum request body. Bodies up to this size stay in memory, so nginx
# workers never write temporary files. That matters when the master runs as
# root, because the workers then run as an unprivileged user that cannot enter
# the run directory.
_MAX_BODY = "1m"


@dataclass(frozen=True, slots=True)
class NginxLayout:
    """Listen address, log files and working files of one nginx deployment."""

    listen: str
    upstreams: Sequence[str]
    pid_file: str
    access_log: str
    error_log: str
    temp_dir: str
    # Source address of connections to the instances; the instances trust it.
    # None lets the kernel choose, as in a container network.
    bind: str | None = None


def render_config(layout: NginxLayout) -> str:
    """Return the nginx.conf text for layout."""
    servers = "\n".join(f"        server {upstream};" for upstream in layout.upstreams)
    bind = f"        proxy_bind {layout.bind};\n" if layout.bind else ""
    temp = layout.temp_dir
    return f"""\
# Rendered by otel_flux.stack.nginx; edit the renderer, not this file.
worker_processes 1;
pid {layout.pid_file};
error_log {layout.error_log} warn;

events {{
    worker_connections 1024;
}}

http {{
    # No client address in the log: the instance that served each request,
    # its status and the time it took.
    log_format upstream '$time_iso8601 "$request" $status upstream=$upstream_addr '
                        'upstream_status=$upstream_status request_time=$request_time';
    access_log {layout.access_log} upstream;

    client_max_body_size {_MAX_BODY};
    client_body_buffer_size {_MAX_BODY};
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;

    upstream flux_service {{
{servers}
        keepalive 16;
    }}

    server {{
        listen {layout.listen};

        location = {HEALTH_PATH} {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}

        location / {{
            proxy_pass http://flux_service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # Replace, never append: a client-supplied X-Forwarded-For is dropped.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_max_temp_file_size 0;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            # Try the next instance when one cannot be reached. nginx passes a
            # POST on only if it never reached an instance (no non_idempotent),
            # so a login attempt is never counted twice.
            proxy_next_upstream error timeout;
{bind}        }}
    }}
}}
"""
