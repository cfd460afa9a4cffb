#!/usr/bin/env python3
"""
Check the deployment files under deploy/ without a cluster or Docker (run by .ci/run).

    python3 .ci/check_deploy.py [REPO_ROOT]

* every *.yml / *.yaml under deploy/ parses (PyYAML, all documents);
* deploy/k8s: kustomization.yaml names only files that exist; the StatefulSet's spec.replicas
  equals its SHARD_COUNT and its command derives --shard from the pod ordinal; the probes
  (startup, readiness, liveness) GET /healthz on the metrics port, the Prometheus annotations
  name that port, the headless Service targets it; the spool is a volumeClaimTemplate mounted
  where CCXT_SPOOL__DIR points; credentials come from a Secret; the pod runs non-root with a
  read-only root filesystem and no capabilities; resources are set;
* deploy/compose: the collectors' --shard values are 0/n ... n-1/n, each once, with n the same
  default as .env.example's SHARDS; each collector has its own spool volume and host port; every
  collector waits for the bucket to be created.

Exits 1 listing every problem.
"""

from __future__ import annotations

import os
import re
import sys

import yaml

problems: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        problems.append(message)


def load_all(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def parse_every_yaml(root: str) -> None:
    for dirpath, _, files in os.walk(os.path.join(root, "deploy")):
        for name in sorted(files):
            if name.endswith((".yml", ".yaml")):
                path = os.path.join(dirpath, name)
                try:
                    load_all(path)
                except yaml.YAMLError as e:
                    problems.append(f"{os.path.relpath(path, root)}: not valid YAML: {e}")


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def check_k8s(root: str) -> None:
    k8s = os.path.join(root, "deploy", "k8s")
    kustomization = load_all(os.path.join(k8s, "kustomization.yaml"))[0]
    docs = []
    for resource in kustomization.get("resources", []):
        path = os.path.join(k8s, resource)
        check(os.path.isfile(path), f"deploy/k8s/kustomization.yaml: resource {resource} does not exist")
        if os.path.isfile(path):
            docs += load_all(path)
    for generator in kustomization.get("configMapGenerator", []):
        for f in generator.get("files", []):
            check(os.path.isfile(os.path.join(k8s, f.split("=")[-1])),
                  f"deploy/k8s/kustomization.yaml: configMapGenerator file {f} does not exist")
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    sts_list = by_kind.get("StatefulSet", [])
    check(len(sts_list) == 1, f"deploy/k8s: expected one StatefulSet, found {len(sts_list)}")
    if not sts_list:
        return
    sts = sts_list[0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    containers = pod["containers"]
    check(len(containers) == 1, "StatefulSet: expected one container")
    c = containers[0]
    env = env_of(c)
    replicas = spec.get("replicas")
    shard_count = env.get("SHARD_COUNT", {}).get("value")
    check(shard_count is not None and str(replicas) == shard_count,
          f"StatefulSet: spec.replicas ({replicas}) and env SHARD_COUNT ({shard_count}) must be equal")
    command = " ".join(c.get("command", []) + c.get("args", []))
    check('--shard "${HOSTNAME##*-}/${SHARD_COUNT}"' in command,
          f"StatefulSet: the command must pass --shard \"${{HOSTNAME##*-}}/${{SHARD_COUNT}}\" (got: {command})")
    check(command.startswith("/usr/bin/tini -- /bin/sh -c exec ccxt-cli"),
          "StatefulSet: run ccxt-cli under tini with `exec` so SIGTERM reaches it")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check("metrics" in ports, "StatefulSet: no container port named metrics")
    metrics_port = ports.get("metrics")
    check(env.get("CCXT_METRICS__ADDRESS", {}).get("value") == f"0.0.0.0:{metrics_port}",
          "StatefulSet: CCXT_METRICS__ADDRESS must listen on 0.0.0.0 at the metrics port")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == "/healthz" and get.get("port") in ("metrics", metrics_port),
              f"StatefulSet: {probe} must GET /healthz on the metrics port")
    annotations = spec["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true", "StatefulSet: prometheus.io/scrape annotation missing")
    check(annotations.get("prometheus.io/port") == str(metrics_port),
          "StatefulSet: prometheus.io/port must be the metrics port")
    check(annotations.get("prometheus.io/path") == "/metrics", "StatefulSet: prometheus.io/path must be /metrics")
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    spool_dir = env.get("CCXT_SPOOL__DIR", {}).get("value", "")
    check(any(spool_dir.startswith(mounts.get(claim, "//") + "/") for claim in claims),
          f"StatefulSet: CCXT_SPOOL__DIR ({spool_dir}) must lie on a volumeClaimTemplate's mount")
    check(env.get("CCXT_CATALOG_PATH", {}).get("value", "").startswith("s3://"),
          "StatefulSet: CCXT_CATALOG_PATH must be an s3:// URL")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        check("secretKeyRef" in env.get(key, {}).get("valueFrom", {}),
              f"StatefulSet: {key} must come from a Secret (secretKeyRef)")
    pod_sc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(pod_sc.get("runAsNonRoot") is True, "StatefulSet: runAsNonRoot must be true")
    check(sc.get("readOnlyRootFilesystem") is True, "StatefulSet: readOnlyRootFilesystem must be true")
    check(sc.get("allowPrivilegeEscalation") is False, "StatefulSet: allowPrivilegeEscalation must be false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "StatefulSet: capabilities must drop ALL")
    check(mounts.get("tmp") == "/tmp", "StatefulSet: a writable /tmp (emptyDir) is needed with a read-only root")
    resources = c.get("resources", {})
    check("requests" in resources and "memory" in resources.get("limits", {}),
          "StatefulSet: resources need requests and a memory limit")
    services = by_kind.get("Service", [])
    check(any(s["spec"].get("clusterIP") == "None" and s["metadata"]["name"] == spec["serviceName"]
              for s in services), "deploy/k8s: the StatefulSet's serviceName must be a headless Service")
    for s in services:
        selector = s["spec"].get("selector", {})
        labels = spec["template"]["metadata"]["labels"]
        check(all(labels.get(k) == v for k, v in selector.items()),
              f"Service {s['metadata']['name']}: its selector does not match the pods")


def check_compose(root: str) -> None:
    compose_dir = os.path.join(root, "deploy", "compose")
    compose = load_all(os.path.join(compose_dir, "docker-compose.yml"))[0]
    services = compose["services"]
    with open(os.path.join(compose_dir, ".env.example"), encoding="utf-8") as f:
        shards_env = dict(line.strip().split("=", 1) for line in f if "=" in line and not line.startswith("#"))
    n_default = int(shards_env.get("SHARDS", "0"))
    indices = []
    spools, host_ports = [], []
    for name, service in sorted(services.items()):
        command = service.get("command") or []
        if "--shard" not in command:
            continue
        value = command[command.index("--shard") + 1]
        m = re.fullmatch(r"(\d+)/\$\{SHARDS:-(\d+)\}", value)
        check(m is not None, f"compose {name}: --shard must be i/${{SHARDS:-n}} (got {value})")
        if m is None:
            continue
        indices.append(int(m.group(1)))
        check(int(m.group(2)) == n_default,
              f"compose {name}: the default n ({m.group(2)}) differs from SHARDS in .env.example ({n_default})")
        volumes = [v for v in service.get("volumes", []) if isinstance(v, str)]
        spools += [v.split(":")[0] for v in volumes if v.endswith(":/data")]
        host_ports += [p.rsplit(":", 1)[0] for p in service.get("ports", [])]
        depends = service.get("depends_on", {})
        check(depends.get("createbucket", {}).get("condition") == "service_completed_successfully",
              f"compose {name}: must wait for createbucket to complete")
        env = service.get("environment", {})
        check(str(env.get("CCXT_CATALOG_PATH", "")).startswith("s3://"), f"compose {name}: catalog must be s3://")
    check(sorted(indices) == list(range(n_default)),
          f"compose: shard indices {sorted(indices)} must be 0..{n_default - 1}, each once")
    check(len(set(spools)) == len(indices), f"compose: each collector needs its own spool volume (got {spools})")
    check(len(set(host_ports)) == len(indices), f"compose: each collector needs its own host port (got {host_ports})")


def main() -> int:
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    parse_every_yaml(root)
    if not problems:
        check_k8s(root)
        check_compose(root)
    for p in problems:
        print(f"deploy: {p}")
    if problems:
        return 1
    print("deploy/: every YAML file parses; k8s StatefulSet and compose shards are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
