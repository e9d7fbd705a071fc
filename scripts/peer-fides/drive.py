"""Times Fides's access request end to end: filed by e-mail to status
`complete` (the access package written to its storage), over HTTP, one
client, for customers picked at random; prints median, p90, worst."""
import json, os, subprocess, sys, time, urllib.request

BASE = "http://127.0.0.1:8392/api/v1"
TOKEN = open(os.path.join(os.environ["PEER"], "token")).read().strip()
N = int(os.environ.get("CUSTODE_BENCH_SUBJECTS", "25"))
WARM = 3
UPLOADS = os.path.join(os.environ["PEER"], "run", "fides_uploads")

def call(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())

ids = subprocess.run(["psql", "-At", "-h", "127.0.0.1", "-U", "postgres", "test", "-c",
    f"SELECT id FROM bench_app_data.customers WHERE email LIKE 'user%' ORDER BY random() LIMIT {WARM + N}"],
    capture_output=True, text=True, check=True).stdout.split()
times, submit = [], []
for i, c in enumerate(ids):
    t = time.perf_counter()
    r = call("POST", "/privacy-request", [{"identity": {"email": f"user{c}@example.com"}, "policy_key": "default_access_policy"}])
    assert r["succeeded"], r
    pid = r["succeeded"][0]["id"]
    s = time.perf_counter() - t
    while True:
        st = call("GET", f"/privacy-request?request_id={pid}")["items"][0]["status"]
        if st == "complete":
            break
        assert st in ("pending", "approved", "in_processing"), st
        time.sleep(0.0005)
    e = time.perf_counter() - t
    assert os.path.exists(os.path.join(UPLOADS, pid + ".zip")), "package written"
    if i >= WARM:
        times.append(e); submit.append(s)
times.sort(); submit.sort()
q = lambda d, p: d[round((len(d) - 1) * p)] * 1000
print(f"Fides access request filed by e-mail to complete (package written): median {q(times,.5):.0f} ms, "
      f"p90 {q(times,.9):.0f} ms, worst {times[-1]*1000:.0f} ms over {N} customers (POST alone median {q(submit,.5):.0f} ms)")
