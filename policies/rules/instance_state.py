"""Rules against state kept on instances: data volumes, attached EBS and Lightsail disks, lone EC2 and
Lightsail instances, ECS tasks keeping data on the container instance or on a shared file system,
autoscaling warm pools that take scaled-in instances back.

An instance that holds data of its own cannot be replaced, scaled in or lost without losing that
data; in a stateless design every instance is cattle from the same launch template.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, falsy, get, items, known, truthy, type_set
from .images import not_known

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
INSTANCE = "aws:ec2/instance:Instance"
SPOT_INSTANCE = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
EBS_VOLUME = "aws:ebs/volume:Volume"
VOLUME_ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"
LIGHTSAIL_INSTANCE = "aws:lightsail/instance:Instance"
LIGHTSAIL_DISK = "aws:lightsail/disk:Disk"
LIGHTSAIL_DISK_ATTACHMENT = "aws:lightsail/disk_attachment:Disk_attachment"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"

COMPUTE_TYPES = type_set(LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION, INSTANCE, SPOT_INSTANCE, SPOT_FLEET)


def _device(name: Any) -> str:
    return str(name).removeprefix("/dev/")


def _template_volumes(props: dict[str, Any], roots: set[str]) -> list[str]:
    found: list[str] = []
    for mapping in items(props.get("blockDeviceMappings")):
        if not isinstance(mapping, dict):
            continue
        device = mapping.get("deviceName")
        # The provider sends noDevice only when it is a non-empty string, so "" suppresses nothing
        # (hashicorp/terraform-provider-aws, internal/service/ec2/ec2_launch_template.go,
        # expandLaunchTemplateBlockDeviceMappingRequest: `if v, ok := tfMap["no_device"].(string); ok && v != ""`).
        if not known(device) or (known(mapping.get("noDevice")) and str(mapping.get("noDevice")) != ""):
            continue
        if known(mapping.get("virtualName")):
            found.append(
                f"block device {device} maps instance store {mapping['virtualName']}: "
                "instance-store disks are state that dies with the instance"
            )
        elif _device(device) not in roots:
            found.append(
                f"block device {device} is an extra EBS volume: launch templates may only configure the root volume"
            )
        elif falsy(get(mapping, "ebs", "deleteOnTermination")):
            found.append(f"root volume {device} has deleteOnTermination false: it outlives the instance")
    return found


def _instance_volumes(props: dict[str, Any]) -> list[str]:
    """Findings on an instance's, launch configuration's or spot launch specification's volumes."""
    found: list[str] = []
    if falsy(get(props, "rootBlockDevice", "deleteOnTermination")):
        found.append("rootBlockDevice has deleteOnTermination false: the root volume outlives the instance")
    for ebs in items(props.get("ebsBlockDevices")):
        if isinstance(ebs, dict) and not truthy(ebs.get("noDevice")):
            found.append(
                f"ebsBlockDevices adds EBS volume {get(ebs, 'deviceName', default='?')}: "
                "instances may only have a root volume"
            )
    for eph in items(props.get("ephemeralBlockDevices")):
        if isinstance(eph, dict) and not truthy(eph.get("noDevice")):
            found.append(
                f"ephemeralBlockDevices maps instance store {get(eph, 'virtualName', default='?')} "
                f"at {get(eph, 'deviceName', default='?')}: instance-store disks are state that dies "
                "with the instance"
            )
    return found


def check_data_volumes(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if resource_type == LAUNCH_TEMPLATE:
        return _template_volumes(props, {_device(d) for d in config["rootDeviceNames"]})
    if resource_type == SPOT_FLEET:
        specs = [spec for spec in items(props.get("launchSpecifications")) if isinstance(spec, dict)]
        return [finding for spec in specs for finding in _instance_volumes(spec)]
    return _instance_volumes(props)


def check_ebs_volumes(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if resource_type == LIGHTSAIL_DISK_ATTACHMENT:
        return [
            f"attaches Lightsail disk {get(props, 'diskName', default='?')} to instance "
            f"{get(props, 'instanceName', default='?')} at {get(props, 'diskPath', default='?')}: data on an "
            "instance's disk pins it"
        ]
    if resource_type == LIGHTSAIL_DISK:
        return ["a Lightsail disk is block storage bound to one availability zone and instance"]
    if resource_type == VOLUME_ATTACHMENT:
        return [
            f"attaches an EBS volume to instance {get(props, 'instanceId', default='?')} at "
            f"{get(props, 'deviceName', default='?')}: data on an instance's disk pins it"
        ]
    return ["a standalone EBS volume is disk state bound to one availability zone and instance"]


def check_standalone_instances(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    tags = props.get("tags")
    allowed: dict[str, Any] = config.get("allowedTags") or {}
    if isinstance(tags, dict):
        lowered = {str(k).lower(): v for k, v in tags.items()}
        for key, values in allowed.items():
            value = lowered.get(str(key).lower())
            if isinstance(value, str) and any(fnmatchcase(value.lower(), str(v).lower()) for v in values):
                return []
    if resource_type == LIGHTSAIL_INSTANCE:
        return [
            "a Lightsail instance is a standalone server that nothing replaces; run app servers from a launch "
            "template in an autoscaling group, or tag a bastion with an allowed tag"
        ]
    spot = " (spot request)" if resource_type == SPOT_INSTANCE else ""
    return [
        f"a standalone EC2 instance{spot} outside an autoscaling group; run app servers from a launch "
        "template in an autoscaling group, or tag a bastion with an allowed tag"
    ]


def _task_volumes(props: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(name, volume) of an ECS task definition's volumes."""
    return [(v.get("name", "?"), v) for v in items(props.get("volumes")) if isinstance(v, dict)]


def check_ecs_host_volumes(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    for name, volume in _task_volumes(props):
        if known(volume.get("hostPath")):
            found.append(f"task volume {name} bind-mounts host path {volume['hostPath']} on the container instance")
        if get(volume, "dockerVolumeConfiguration", "scope") == "shared":
            found.append(f"task volume {name} is a shared Docker volume that outlives the task on the instance")
    return found


def check_ecs_shared_file_systems(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    for name, volume in _task_volumes(props):
        efs = volume.get("efsVolumeConfiguration")
        if known(efs):
            found.append(
                f"task volume {name} mounts EFS file system {get(efs, 'fileSystemId', default='?')}: "
                "tasks keep no files between runs"
            )
        if known(volume.get("fsxWindowsFileServerVolumeConfiguration")):
            found.append(f"task volume {name} mounts an FSx for Windows file share: tasks keep no files between runs")
    return found


def check_warm_pool_reuse(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    # Without a reuse policy a scale-in terminates the instance and the pool is refilled with fresh
    # ones; with ReuseOnScaleIn the instance is stopped (or hibernated) and returned to the pool, disk
    # (and memory) intact, and serves again on the next scale-out. InstanceReusePolicy in the EC2 Auto
    # Scaling API reference and the user guide's "Warm pools" page
    # (docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html).
    pool = props.get("warmPool")
    reuse = get(pool, "instanceReusePolicy", "reuseOnScaleIn")
    if pool is UNKNOWN or reuse is UNKNOWN:
        not_known("warmPool.instanceReusePolicy.reuseOnScaleIn")
    if truthy(reuse):
        state = get(pool, "poolState", default="Stopped")
        return [
            f"warmPool.instanceReusePolicy.reuseOnScaleIn is true: a scaled-in instance goes back to the warm pool "
            f"({state}) with its disk and serves again later, keeping whatever it wrote"
        ]
    return []


NO_INSTANCE_DATA_VOLUMES = Rule(
    name="no-instance-data-volumes",
    description="Launch templates, launch configurations and instances may only have a root volume.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A data volume or instance-store disk is state on the instance: scale-in, replacement or an "
    "AZ loss takes the data with it, and instances stop being interchangeable.",
    remediation="Remove the extra blockDeviceMappings / ebsBlockDevices / ephemeralBlockDevices; keep "
    "only the encrypted root volume and put data in RDS, ElastiCache, S3 or SQS.",
    resource_types=COMPUTE_TYPES,
    check=check_data_volumes,
    config={
        "rootDeviceNames": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["/dev/xvda", "/dev/sda1"],
            "description": "Device names that are the AMI's root volume.",
        }
    },
    tags=("statelessness", "ec2"),
)

NO_EBS_DATA_VOLUMES = Rule(
    name="no-ebs-data-volumes",
    description="No standalone EBS volumes or Lightsail disks, and no attachments of them onto compute.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="An EBS volume attached to an instance makes that instance a pet: it cannot be replaced by "
    "the autoscaling group without losing or orphaning the data.",
    remediation="Delete the aws.ebs.Volume / aws.ec2.VolumeAttachment (aws.lightsail.Disk / "
    "Disk_attachment); store the data in a managed service (RDS, ElastiCache, S3).",
    resource_types=type_set(EBS_VOLUME, VOLUME_ATTACHMENT, LIGHTSAIL_DISK, LIGHTSAIL_DISK_ATTACHMENT),
    check=check_ebs_volumes,
    tags=("statelessness", "ec2"),
)

NO_STANDALONE_INSTANCES = Rule(
    name="no-standalone-instances",
    description="EC2 instances run from launch templates in autoscaling groups, not as standalone (or "
    "Lightsail) instances.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="A hand-made instance is unique: nothing replaces it when it dies, so whatever it holds "
    "(sessions, files, config drift) becomes state.",
    remediation="Use aws.ec2.LaunchTemplate + aws.autoscaling.Group; tag genuine bastions with an "
    "allowed tag (policy config allowedTags).",
    resource_types=type_set(INSTANCE, SPOT_INSTANCE, LIGHTSAIL_INSTANCE),
    check=check_standalone_instances,
    config={
        "allowedTags": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": {"Role": ["bastion", "nat"], "Name": ["*bastion*"]},
            "description": "Tag key to allowed values (case-insensitive, shell-style wildcards) that exempt an "
            "instance.",
        }
    },
    tags=("statelessness", "ec2"),
)

NO_ECS_HOST_VOLUMES = Rule(
    name="no-ecs-host-volumes",
    description="ECS task definitions do not keep data on the container instance (host paths, shared Docker volumes).",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A bind mount or shared Docker volume leaves data on one container instance: the next task may land "
    "elsewhere and the data dies with the instance.",
    remediation="Drop hostPath / shared dockerVolumeConfiguration volumes; use S3 or a managed data store, "
    "and task-scoped volumes for scratch space.",
    resource_types=type_set(ECS_TASK),
    check=check_ecs_host_volumes,
    tags=("statelessness", "ecs"),
)

NO_ECS_SHARED_FILE_SYSTEMS = Rule(
    name="no-ecs-efs-volumes",
    description="ECS task definitions do not mount shared file systems (EFS, FSx for Windows).",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="The reason Lambda functions may not mount EFS holds for tasks: a file system shared by task "
    "replicas is state outside the managed stores, with its own consistency, locking and cleanup problems.",
    remediation="Drop efsVolumeConfiguration / fsxWindowsFileServerVolumeConfiguration volumes; read and "
    "write objects in S3 or rows in the database.",
    resource_types=type_set(ECS_TASK),
    check=check_ecs_shared_file_systems,
    tags=("statelessness", "ecs"),
)

NO_WARM_POOL_REUSE = Rule(
    name="no-warm-pool-reuse",
    description="Autoscaling warm pools do not take scaled-in instances back (instanceReusePolicy.reuseOnScaleIn).",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A reused instance returns with the files, caches and sessions it had: instances stop being "
    "interchangeable and a later scale-out serves old state.",
    remediation="Drop warmPool.instanceReusePolicy (or set reuseOnScaleIn: false) so scale-in terminates the "
    "instance and the pool is refilled from the launch template.",
    resource_types=type_set(AUTOSCALING_GROUP),
    check=check_warm_pool_reuse,
    tags=("statelessness", "ec2"),
)

RULES = (
    NO_INSTANCE_DATA_VOLUMES,
    NO_EBS_DATA_VOLUMES,
    NO_STANDALONE_INSTANCES,
    NO_ECS_HOST_VOLUMES,
    NO_ECS_SHARED_FILE_SYSTEMS,
    NO_WARM_POOL_REUSE,
)
