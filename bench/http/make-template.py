#!/usr/bin/python3
"""Writes bench/http/template.json from examples/service-a.json: the same stack,
whose service's 2 tasks each run an nginx (one worker) on $HOST:$PORT that
answers `return 200 ok`; a POST is first read in full (it goes through an
internal proxy_pass, which reads the whole body, to a second server of the same
nginx on $HOST:1$PORT that answers 200; the body itself is not passed on), so that the 1 MiB POST scenario really moves the body."""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
t = json.load(open(os.path.join(here, "..", "..", "examples", "service-a.json")))
R = t["Resources"]
t["Description"] = ("vpcd bench: the seed's stack, whose service runs 2 tasks of nginx "
                    "`return 200 ok` behind the ALB's host-header rule.")
conf = (
    "worker_processes 1;\\nworker_rlimit_nofile 20000;\\nerror_log %s/error.log crit;\\npid %s/nginx.pid;\\n"
    "events { worker_connections 19000; }\\n"
    "http { access_log off; keepalive_requests 100000000; keepalive_timeout 300s;"
    " client_max_body_size 0; client_body_buffer_size 2m;"
    " client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fcgi;"
    " uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;"
    " upstream inner { server %s:1%s; keepalive 16; }"
    " server { listen %s:1%s; location / { return 200 ok; } }"
    " server { listen %s:%s;"
    " location / { if ($request_method = POST) { rewrite ^ /.post last; } return 200 ok; }"
    " location = /.post { internal; proxy_pass http://inner; proxy_pass_request_body off;"
    " proxy_set_header Content-Length \"\"; proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }\\n"
)
cmd = ("d=$(mktemp -d \"${TMPDIR:-/tmp}/vpcd-bench-backend.XXXXXX\") && "
       f"printf '{conf}' \"$d\" \"$d\" \"$d\" \"$d\" \"$d\" \"$d\" \"$d\" \"$HOST\" \"$PORT\" \"$HOST\" \"$PORT\" \"$HOST\" \"$PORT\" "
       "> \"$d/nginx.conf\" && exec nginx -g 'daemon off;' -p \"$d\" -c \"$d/nginx.conf\"")
c = R["ServiceATask"]["Properties"]["ContainerDefinitions"][0]
c["Image"] = "nginx:stable"
c["Command"] = ["sh", "-c", cmd]
c["Environment"] = [{"Name": "SERVICE_NAME", "Value": "bench-backend"}]
tg = R["ServiceAAlbTargetGroup"]["Properties"]
tg["HealthCheckPath"] = "/"
tg["HealthCheckIntervalSeconds"] = 5
tg["HealthyThresholdCount"] = 2
with open(os.path.join(here, "template.json"), "w") as f:
    json.dump(t, f, indent=2)
    f.write("\n")
