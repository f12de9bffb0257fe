"""Submits exactly N {"sleep_ms": 0} tasks over C keep-alive connections, then waits until none
is pending or running. Usage: submit_n.py PORT N [C]"""
import http.client
import json
import sys
import threading
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 8
body = b'{"sleep_ms": 0}'
failures = []


def submit(count):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        c.request("POST", "/api/tasks", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 201:
            failures.append(r.status)
    c.close()


threads = [threading.Thread(target=submit, args=(n // conns + (i < n % conns),)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()

c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
while True:
    c.request("GET", "/api/stats")
    tasks = json.loads(c.getresponse().read())["tasks"]
    if tasks["pending"] == 0 and tasks["running"] == 0:
        break
    time.sleep(0.1)
print(f"submitted={n} failures={len(failures)}")
