#!/usr/bin/env python3
"""packaging/kubernetes/csi against the berth-csi it deploys and against itself.

No kubelet or API server runs here, so this checks what one would trip over: every manifest
parses as Kubernetes objects; the driver name everywhere is the one berth-csi announces; every
berth-csi flag exists in its --help; the sidecars and berth-csi share one socket; kubelet's
paths match --path-root and the registration path; mounts name volumes that exist; the node pod
is privileged, on the host's PIDs, with Bidirectional propagation; the service accounts exist
and the ClusterRole grants what each sidecar needs; the classes' parameters are berth options;
the examples name classes, claims and snapshots that exist.

Usage: kubernetes_csi_test.py BIN_DIR SOURCE_DIR
"""
import pathlib
import re
import subprocess
import sys

import yaml

FAILURES = []


def check(ok, what):
    if ok:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        FAILURES.append(what)


def load(directory):
    objects = []
    for path in sorted(directory.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            missing = [k for k in ("apiVersion", "kind", "metadata") if k not in doc]
            check(not missing and doc["metadata"].get("name"),
                  f"{path.name}: a {doc.get('kind')} with apiVersion, kind and a name")
            doc["_file"] = path.name
            objects.append(doc)
    return objects


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def flags(args):
    return {a.split("=", 1)[0]: (a.split("=", 1)[1] if "=" in a else None)
            for a in args if a.startswith("--")}


# What each sidecar needs of the API, as kubernetes-csi's own RBAC files give it.
SIDECAR_RULES = {
    "csi-provisioner": [("", "persistentvolumes", "create"), ("", "persistentvolumes", "delete"),
                        ("", "persistentvolumeclaims", "update"),
                        ("storage.k8s.io", "storageclasses", "list"), ("", "events", "create"),
                        ("storage.k8s.io", "csinodes", "get"), ("", "nodes", "get"),
                        ("snapshot.storage.k8s.io", "volumesnapshots", "get"),
                        ("snapshot.storage.k8s.io", "volumesnapshotcontents", "get")],
    "csi-attacher": [("", "persistentvolumes", "patch"),
                     ("storage.k8s.io", "volumeattachments", "patch"),
                     ("storage.k8s.io", "volumeattachments/status", "patch"),
                     ("storage.k8s.io", "csinodes", "get")],
    "csi-snapshotter": [("snapshot.storage.k8s.io", "volumesnapshotclasses", "list"),
                        ("snapshot.storage.k8s.io", "volumesnapshotcontents", "update"),
                        ("snapshot.storage.k8s.io", "volumesnapshotcontents/status", "patch"),
                        ("", "events", "patch")],
    "csi-resizer": [("", "persistentvolumes", "patch"), ("", "persistentvolumeclaims", "get"),
                    ("", "persistentvolumeclaims/status", "patch"), ("", "pods", "list")],
}


def grants(role, group, resource, verb):
    return any(group in rule.get("apiGroups", []) and resource in rule.get("resources", [])
               and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
               for rule in role.get("rules", []))


def main():
    bin_dir, source_dir = map(pathlib.Path, sys.argv[1:3])
    objects = load(source_dir / "packaging/kubernetes/csi")
    help_text = subprocess.run([bin_dir / "berth-csi", "--help"], capture_output=True,
                               text=True, check=True).stdout
    driver = re.search(r"driver name ([a-z0-9.-]+)", help_text).group(1)
    known_flags = set(re.findall(r"(--[a-z][a-z0-9-]*)", help_text))

    drivers = by_kind(objects, "CSIDriver")
    check(len(drivers) == 1 and drivers[0]["metadata"]["name"] == driver,
          f"one CSIDriver, named {driver} as berth-csi announces")
    check(drivers[0]["spec"].get("attachRequired") is True,
          "attachRequired: ControllerPublish is berth's logical attach")
    classes = by_kind(objects, "StorageClass")
    check(classes and all(c["provisioner"] == driver for c in classes),
          f"every StorageClass's provisioner is {driver}")
    snapshot_classes = by_kind(objects, "VolumeSnapshotClass")
    check(snapshot_classes and all(c["driver"] == driver for c in snapshot_classes),
          f"every VolumeSnapshotClass's driver is {driver}")

    # berth's create options, as the README's option table names them.
    readme = (source_dir / "README.md").read_text()
    for storage_class in classes:
        for key in storage_class.get("parameters", {}):
            if not key.startswith("csi.storage.k8s.io/"):
                check(f"`{key}`" in readme,
                      f"StorageClass {storage_class['metadata']['name']}: parameter {key} is a "
                      "berth option (README)")

    accounts = {o["metadata"]["name"] for o in by_kind(objects, "ServiceAccount")}
    cluster_roles = {o["metadata"]["name"]: o for o in by_kind(objects, "ClusterRole")}
    bound = {}
    for binding in by_kind(objects, "ClusterRoleBinding"):
        for subject in binding["subjects"]:
            bound.setdefault(subject["name"], []).append(cluster_roles.get(
                binding["roleRef"]["name"], {}))

    workloads = by_kind(objects, "Deployment") + by_kind(objects, "DaemonSet")
    modes = {}
    for workload in workloads:
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        check(spec.get("serviceAccountName") in accounts,
              f"{name}: its service account {spec.get('serviceAccountName')} exists")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        containers = {c["name"]: c for c in spec["containers"]}
        for container in spec["containers"]:
            for mount in container.get("volumeMounts", []):
                check(mount["name"] in volumes,
                      f"{name}/{container['name']}: mount {mount['name']} names a volume")
        csi = containers.get("berth-csi")
        check(csi is not None, f"{name}: runs a berth-csi container")
        if csi is None:
            continue
        check(csi["image"].startswith("berth/berth-csi:"), f"{name}: the berth-csi image")
        args = flags(csi.get("args", []))
        for flag in args:
            check(flag in known_flags, f"{name}: berth-csi knows {flag} (berth-csi --help)")
        mode = args.get("--mode")
        modes[name] = mode
        endpoint = args.get("--endpoint", "")
        check(endpoint.startswith("unix:///"), f"{name}: --endpoint is a unix socket")
        socket = endpoint[len("unix://"):]
        socket_dir = str(pathlib.PurePosixPath(socket).parent)
        csi_mounts = {m["mountPath"]: m for m in csi.get("volumeMounts", [])}
        check(socket_dir in csi_mounts, f"{name}: berth-csi's socket dir {socket_dir} is a volume")
        for sidecar_name, sidecar in containers.items():
            if sidecar_name == "berth-csi":
                continue
            address = flags(sidecar.get("args", [])).get("--csi-address")
            check(address == socket, f"{name}/{sidecar_name}: --csi-address is {socket}")
            same = [m for m in sidecar.get("volumeMounts", []) if m["mountPath"] == socket_dir]
            check(same and same[0]["name"] == csi_mounts[socket_dir]["name"],
                  f"{name}/{sidecar_name}: mounts berth-csi's socket volume at {socket_dir}")
            for group, resource, verb in SIDECAR_RULES.get(sidecar_name, []):
                roles = bound.get(spec["serviceAccountName"], [])
                check(any(grants(r, group, resource, verb) for r in roles),
                      f"{name}/{sidecar_name}: may {verb} {resource or group}")
        if mode == "node":
            root = args.get("--path-root", "/var/lib/kubelet")
            kubelet = [m for m in csi.get("volumeMounts", []) if m["mountPath"] == root]
            check(kubelet and kubelet[0].get("mountPropagation") == "Bidirectional",
                  f"{name}: kubelet's dir {root} is mounted Bidirectional")
            check(kubelet and volumes[kubelet[0]["name"]]["hostPath"]["path"] == root,
                  f"{name}: --path-root {root} is the host's kubelet dir")
            check(csi.get("securityContext", {}).get("privileged") is True,
                  f"{name}: berth-csi is privileged (mounts, loop devices, FUSE)")
            check(spec.get("hostPID") is True and spec.get("hostNetwork") is True,
                  f"{name}: host PIDs and network")
            registrar = containers.get("node-driver-registrar", {})
            registration = flags(registrar.get("args", [])).get("--kubelet-registration-path")
            host_socket_dir = volumes[csi_mounts[socket_dir]["name"]]["hostPath"]["path"]
            check(registration == f"{host_socket_dir}/{pathlib.PurePosixPath(socket).name}"
                  and host_socket_dir == f"{root}/plugins/{driver}",
                  f"{name}: registers {registration}, the host's path of berth-csi's socket")
            check(workload["spec"].get("updateStrategy", {}).get("type") == "OnDelete",
                  f"{name}: OnDelete, so a node's berth-csi is replaced when the admin chooses")
            cgroup = [m for m in csi.get("volumeMounts", []) if m["mountPath"] == "/sys/fs/cgroup"]
            check(args.get("--join-cgroup-namespace") == "/proc/1/ns/cgroup" and cgroup and
                  volumes[cgroup[0]["name"]]["hostPath"]["path"] == "/sys/fs/cgroup",
                  f"{name}: joins the host's cgroup namespace, with the host's /sys/fs/cgroup, so "
                  "the mappers outlive the pod")
    check(sorted(modes.values()) == ["controller", "node"],
          "one controller workload and one node DaemonSet")

    # The examples.
    class_names = {c["metadata"]["name"] for c in classes}
    claims = {c["metadata"]["name"]: c for c in by_kind(objects, "PersistentVolumeClaim")}
    snapshots = {s["metadata"]["name"]: s for s in by_kind(objects, "VolumeSnapshot")}
    for claim in claims.values():
        check(claim["spec"]["storageClassName"] in class_names,
              f"PVC {claim['metadata']['name']}: its class exists")
        source = claim["spec"].get("dataSource")
        if source:
            known = claims if source["kind"] == "PersistentVolumeClaim" else snapshots
            check(source["name"] in known,
                  f"PVC {claim['metadata']['name']}: its {source['kind']} {source['name']} exists")
    snapshot_class_names = {c["metadata"]["name"] for c in snapshot_classes}
    for snapshot in snapshots.values():
        check(snapshot["spec"]["volumeSnapshotClassName"] in snapshot_class_names
              and snapshot["spec"]["source"]["persistentVolumeClaimName"] in claims,
              f"VolumeSnapshot {snapshot['metadata']['name']}: its class and claim exist")
    kinds_of_examples = {
        "filesystem": any(c["spec"].get("volumeMode", "Filesystem") == "Filesystem"
                          and "dataSource" not in c["spec"] for c in claims.values()),
        "block": any(c["spec"].get("volumeMode") == "Block" for c in claims.values()),
        "clone": any(c["spec"].get("dataSource", {}).get("kind") == "PersistentVolumeClaim"
                     for c in claims.values()),
        "restore": any(c["spec"].get("dataSource", {}).get("kind") == "VolumeSnapshot"
                       for c in claims.values()),
    }
    for kind, present in kinds_of_examples.items():
        check(present, f"an example PVC: {kind}")
    for pod in by_kind(objects, "Pod"):
        for volume in pod["spec"].get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            check(claim in claims, f"Pod {pod['metadata']['name']}: its claim {claim} exists")
            if claim and claims[claim]["spec"].get("volumeMode") == "Block":
                check(all("volumeDevices" in c for c in pod["spec"]["containers"]),
                      f"Pod {pod['metadata']['name']}: a block claim as volumeDevices")

    dockerfile = (source_dir / "packaging/kubernetes/csi/Dockerfile").read_text()
    check('"/usr/bin/berth-csi"]' in dockerfile,
          "the image's entrypoint is berth-csi, so the manifests' args are its flags")
    print(f"{len(objects)} objects checked, {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
