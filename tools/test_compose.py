#!/usr/bin/env python3
"""Validates docker-compose.yml against the Compose specification's JSON schema and checks
that it stays consistent with the repository (Dockerfiles, ports, health checks, depends_on).

Run by `make test`; needs Debian's python3-yaml, python3-jsonschema and docker-compose (whose package
ships the Compose specification's schema and whose `config -q` validates a file without an engine).
Nothing outside the repository and the installed packages is read."""
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def packaged_schema():
    """The Compose specification schema that Debian's docker-compose package installs."""
    try:
        import compose.config  # python3-compose, a dependency of docker-compose
    except ImportError:
        return ""
    return os.path.join(os.path.dirname(compose.config.__file__), "compose_spec.json")


SCHEMA_CANDIDATES = [os.environ.get("OMS_COMPOSE_SCHEMA", ""), packaged_schema()]
SERVICES = {"checkout": 7100, "inventory": 7101, "orders": 7102, "payments": 7103, "shipments": 7104}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def main():
    schema_path = next((p for p in SCHEMA_CANDIDATES if p and os.path.exists(p)), None)
    if schema_path is None:
        print("compose: FAILED: compose_spec.json not found: install Debian's docker-compose "
              "(tools/oms-env.sh install) or set OMS_COMPOSE_SCHEMA")
        return 1
    compose_cli = shutil.which("docker-compose")
    if compose_cli is None:
        print("compose: FAILED: docker-compose not found: install Debian's docker-compose (tools/oms-env.sh install)")
        return 1
    # The file requires its secrets from the environment; placeholders stand in for validation only.
    env = dict(os.environ, COMPOSE_PROJECT_NAME="oms")
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        for variable in sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", f.read()))):
            env.setdefault(variable, "placeholder")
    result = subprocess.run([compose_cli, "-f", os.path.join(ROOT, "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        failures.append("docker-compose config: " + (result.stderr or result.stdout).strip())
    with open(schema_path) as f:
        schema = json.load(f)
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)

    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.path)):
        failures.append("schema: %s: %s" % ("/".join(map(str, error.path)), error.message))

    services = compose.get("services", {})
    for infra in ("mysql", "redis"):
        check(infra in services, "service %s is missing" % infra)
        check("healthcheck" in services.get(infra, {}), "%s has no healthcheck" % infra)
    check(services.get("mysql", {}).get("image", "").startswith("mysql:8"), "mysql must use a MySQL 8 image")
    check(services.get("redis", {}).get("image", "").startswith("redis:7"), "redis must use a Redis 7 image")
    for name, port in SERVICES.items():
        svc = services.get(name)
        check(svc is not None, "service %s is missing" % name)
        if svc is None:
            continue
        build = svc.get("build", {})
        dockerfile = build.get("dockerfile", "")
        check(dockerfile == "services/Dockerfile", "%s must build from services/Dockerfile" % name)
        check(os.path.exists(os.path.join(ROOT, dockerfile)), "%s: %s does not exist" % (name, dockerfile))
        args = build.get("args", {})
        check(args.get("SERVICE") == name, "%s must build with SERVICE=%s" % (name, name))
        check(str(args.get("PORT")) == str(port), "%s must expose %d" % (name, port))
        check(os.path.isdir(os.path.join(ROOT, "services", name, "migrations")), "%s has no migrations" % name)
        check("healthcheck" in svc, "%s has no healthcheck" % name)
        env = svc.get("environment", {})
        check(env.get("OMS_%s_PORT" % name.upper()) == str(port), "%s must listen on %d" % (name, port))
        check("OMS_%s_DB_URL" % name.upper() in env, "%s has no database URL" % name)
        deps = svc.get("depends_on", {})
        check(isinstance(deps, dict), "%s: depends_on must use conditions" % name)
        for dep, spec in (deps or {}).items():
            check(spec.get("condition") == "service_healthy", "%s depends on %s without service_healthy" % (name, dep))
        check("mysql" in deps and "redis" in deps, "%s must wait for mysql and redis" % name)
    for name in ("inventory", "orders", "payments"):
        check(name in services.get("checkout", {}).get("depends_on", {}), "checkout must wait for %s" % name)

    if failures:
        for f in failures:
            print("compose: FAILED: " + f)
        print("0 passed, 1 failed")
        return 1
    print("compose: docker-compose.yml is valid (docker-compose config, and the schema at %s)" % schema_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
