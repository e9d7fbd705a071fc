"""Sets up Fides (the peer) against the benchmark's app database: one
PostgreSQL connection (schema bench_app_data) and its dataset."""
import json, os, sys, urllib.request

BASE = "http://127.0.0.1:8392/api/v1"
TOKEN = open(os.path.join(os.environ["PEER"], "token")).read().strip()

def call(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        print(method, path, e.code, e.read().decode()[:2000]); sys.exit(1)

ref = lambda: {"references": [{"dataset": "app_data", "field": "customers.id", "direction": "from"}]}
dataset = {
  "fides_key": "app_data", "name": "app",
  "collections": [
    {"name": "customers", "fields": [
      {"name": "id", "data_categories": ["user.unique_id"], "fides_meta": {"primary_key": True, "data_type": "integer"}},
      {"name": "email", "data_categories": ["user.contact.email"], "fides_meta": {"identity": "email", "data_type": "string"}},
      {"name": "name", "data_categories": ["user.name"]},
      {"name": "phone", "data_categories": ["user.contact.phone_number"]},
      {"name": "address", "data_categories": ["user.contact.address"]},
      {"name": "created_at", "data_categories": ["system.operations"]}]},
    {"name": "orders", "fields": [
      {"name": "id", "data_categories": ["system.operations"], "fides_meta": {"primary_key": True}},
      {"name": "customer_id", "data_categories": ["user.unique_id"], "fides_meta": ref()},
      {"name": "item", "data_categories": ["user.financial"]},
      {"name": "amount", "data_categories": ["user.financial"]},
      {"name": "shipping_address", "data_categories": ["user.contact.address"]}]},
    {"name": "login_events", "fields": [
      {"name": "id", "data_categories": ["system.operations"], "fides_meta": {"primary_key": True}},
      {"name": "customer_id", "data_categories": ["user.unique_id"], "fides_meta": ref()},
      {"name": "ip", "data_categories": ["user.device.ip_address"]},
      {"name": "at", "data_categories": ["user.behavior"]}]},
    {"name": "tickets", "fields": [
      {"name": "id", "data_categories": ["system.operations"], "fides_meta": {"primary_key": True}},
      {"name": "customer_id", "data_categories": ["user.unique_id"], "fides_meta": ref()},
      {"name": "subject", "data_categories": ["user.content"]},
      {"name": "body", "data_categories": ["user.content"]}]},
  ]}

print(call("PATCH", "/connection", [{"name": "app", "key": "app_pg", "connection_type": "postgres", "access": "write"}]))
print(call("PUT", "/connection/app_pg/secret", {"host": "127.0.0.1", "port": 5432, "dbname": "test", "username": "postgres", "password": "postgres", "db_schema": "bench_app_data"}))
print(call("PATCH", "/connection/app_pg/dataset", [dataset]))
