"""no-instance-data-volumes, no-ebs-data-volumes, no-standalone-instances."""

import copy

import pytest

from policies.rules import UNKNOWN
from policies.rules.instance_state import (
    NO_EBS_DATA_VOLUMES,
    NO_ECS_HOST_VOLUMES,
    NO_ECS_SHARED_FILE_SYSTEMS,
    NO_INSTANCE_DATA_VOLUMES,
    NO_STANDALONE_INSTANCES,
)

LT = "aws:ec2/launchTemplate:LaunchTemplate"
LC = "aws:ec2/launchConfiguration:LaunchConfiguration"
INSTANCE = "aws:ec2/instance:Instance"

ROOT_ONLY_LT = {
    "imageId": "ami-1",
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 20, "encrypted": "true"}}],
}


def test_launch_template_with_only_a_root_volume_passes(via_policy):
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(LT, ROOT_ONLY_LT) == []
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, ROOT_ONLY_LT) == []


def test_launch_template_extra_ebs_mapping_is_flagged(via_policy):
    props = copy.deepcopy(ROOT_ONLY_LT)
    props["blockDeviceMappings"].append({"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 500}})
    expected = ["block device /dev/xvdb is an extra EBS volume: launch templates may only configure the root volume"]
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(LT, props) == expected
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == expected


def test_launch_template_instance_store_mapping_is_flagged():
    props = copy.deepcopy(ROOT_ONLY_LT)
    props["blockDeviceMappings"].append({"deviceName": "/dev/sdb", "virtualName": "ephemeral0"})
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(LT, props) == [
        "block device /dev/sdb maps instance store ephemeral0: instance-store disks are state that dies with "
        "the instance"
    ]


def test_suppressed_device_and_unknown_device_names_are_not_flagged():
    props = copy.deepcopy(ROOT_ONLY_LT)
    props["blockDeviceMappings"] += [{"deviceName": "/dev/sdb", "noDevice": "true"}, {"deviceName": UNKNOWN}]
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(LT, props) == []


def test_root_device_names_are_configurable(via_policy):
    props = {"blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 8}}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == []
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props, {"rootDeviceNames": ["/dev/xvda"]}) == [
        "block device /dev/sda1 is an extra EBS volume: launch templates may only configure the root volume"
    ]


@pytest.mark.parametrize("resource_type", [INSTANCE, LC, "aws:ec2/spotInstanceRequest:SpotInstanceRequest"])
def test_instances_and_launch_configurations(resource_type, via_policy):
    ok = {"rootBlockDevice": {"volumeSize": 20, "encrypted": True}}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, resource_type, ok) == []
    ebs = {**ok, "ebsBlockDevices": [{"deviceName": "/dev/sdf", "volumeSize": 100}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, resource_type, ebs) == [
        "ebsBlockDevices adds EBS volume /dev/sdf: instances may only have a root volume"
    ]
    eph = {**ok, "ephemeralBlockDevices": [{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, resource_type, eph) == [
        "ephemeralBlockDevices maps instance store ephemeral0 at /dev/sdb: instance-store disks are state that "
        "dies with the instance"
    ]
    suppressed = {**ok, "ephemeralBlockDevices": [{"deviceName": "/dev/sdb", "noDevice": True}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, resource_type, suppressed) == []


def test_other_types_are_not_judged():
    assert NO_INSTANCE_DATA_VOLUMES.evaluate("aws:autoscaling/group:Group", {"ebsBlockDevices": [{}]}) == []


def test_ebs_volume_and_attachment(via_policy):
    assert via_policy(NO_EBS_DATA_VOLUMES, "aws:ebs/volume:Volume", {"size": 100}) == [
        "a standalone EBS volume is disk state bound to one availability zone and instance"
    ]
    assert via_policy(
        NO_EBS_DATA_VOLUMES,
        "aws:ec2/volumeAttachment:VolumeAttachment",
        {"instanceId": "i-1", "volumeId": "vol-1", "deviceName": "/dev/sdh"},
    ) == ["attaches an EBS volume to instance i-1 at /dev/sdh: data on an instance's disk pins it"]
    assert via_policy(NO_EBS_DATA_VOLUMES, "aws:ec2/launchTemplate:LaunchTemplate", {}) == []


STANDALONE = (
    "a standalone EC2 instance outside an autoscaling group; run app servers from a launch template in an "
    "autoscaling group, or tag a bastion with an allowed tag"
)


def test_standalone_instance_is_flagged_unless_allow_listed(via_policy):
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, {"ami": "ami-1"}) == [STANDALONE]
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, {"tags": {"Name": "app"}}) == [STANDALONE]
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, {"tags": {"role": "Bastion"}}) == []
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, {"tags": {"Role": "nat"}}) == []


def test_standalone_allow_list_is_configurable(via_policy):
    props = {"tags": {"purpose": "jumpbox"}}
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, props) == [STANDALONE]
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, props, {"allowedTags": {"purpose": ["jumpbox"]}}) == []
    spot = via_policy(NO_STANDALONE_INSTANCES, "aws:ec2/spotInstanceRequest:SpotInstanceRequest", {})
    assert spot == [STANDALONE.replace("instance outside", "instance (spot request) outside")]


def test_standalone_allow_list_wildcards(via_policy):
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, {"tags": {"Name": "prod-Bastion-1"}}) == []
    assert via_policy(NO_STANDALONE_INSTANCES, INSTANCE, {"tags": {"Name": "prod-app-1"}}) == [STANDALONE]


def test_spot_fleet_launch_specifications(via_policy):
    fleet = "aws:ec2/spotFleetRequest:SpotFleetRequest"
    ok = {"launchSpecifications": [{"ami": "ami-1", "rootBlockDevice": {"volumeSize": 20}}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, fleet, ok) == []
    bad = {"launchSpecifications": [{"ami": "ami-1", "ebsBlockDevices": [{"deviceName": "/dev/sdf"}]}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, fleet, bad) == [
        "ebsBlockDevices adds EBS volume /dev/sdf: instances may only have a root volume"
    ]


def test_ecs_host_volumes(via_policy):
    task = "aws:ecs/taskDefinition:TaskDefinition"
    ok = {"volumes": [{"name": "scratch"}, {"name": "task", "dockerVolumeConfiguration": {"scope": "task"}}]}
    assert via_policy(NO_ECS_HOST_VOLUMES, task, ok) == []
    assert via_policy(NO_ECS_HOST_VOLUMES, task, {"volumes": [{"name": "data", "hostPath": "/ecs/data"}]}) == [
        "task volume data bind-mounts host path /ecs/data on the container instance"
    ]
    shared = {"volumes": [{"name": "pg", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}}]}
    assert via_policy(NO_ECS_HOST_VOLUMES, task, shared) == [
        "task volume pg is a shared Docker volume that outlives the task on the instance"
    ]


def test_root_volume_kept_after_termination(via_policy):
    props = copy.deepcopy(ROOT_ONLY_LT)
    props["blockDeviceMappings"][0]["ebs"]["deleteOnTermination"] = "false"
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == [
        "root volume /dev/xvda has deleteOnTermination false: it outlives the instance"
    ]
    props["blockDeviceMappings"][0]["ebs"]["deleteOnTermination"] = "true"
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == []
    kept = {"rootBlockDevice": {"volumeSize": 20, "deleteOnTermination": False}}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, INSTANCE, kept) == [
        "rootBlockDevice has deleteOnTermination false: the root volume outlives the instance"
    ]


ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"
TASK = {
    "family": "web",
    "containerDefinitions": "[]",
    "volumes": [{"name": "scratch"}],
}


def test_task_with_task_scoped_volume_passes(via_policy):
    assert via_policy(NO_ECS_SHARED_FILE_SYSTEMS, ECS_TASK, TASK) == []


def test_task_mounting_efs_is_flagged(via_policy):
    props = {
        **TASK,
        "volumes": [
            *TASK["volumes"],
            {"name": "uploads", "efsVolumeConfiguration": {"fileSystemId": "fs-1234", "transitEncryption": "ENABLED"}},
        ],
    }
    assert via_policy(NO_ECS_SHARED_FILE_SYSTEMS, ECS_TASK, props) == [
        "task volume uploads mounts EFS file system fs-1234: tasks keep no files between runs"
    ]


def test_task_mounting_fsx_is_flagged(via_policy):
    fsx = {
        "fileSystemId": "fs-0ab",
        "rootDirectory": "\\\\data",
        "authorizationConfig": {"credentialsParameter": "arn:x", "domain": "corp"},
    }
    props = {**TASK, "volumes": [{"name": "share", "fsxWindowsFileServerVolumeConfiguration": fsx}]}
    assert via_policy(NO_ECS_SHARED_FILE_SYSTEMS, ECS_TASK, props) == [
        "task volume share mounts an FSx for Windows file share: tasks keep no files between runs"
    ]


LIGHTSAIL_INSTANCE = "aws:lightsail/instance:Instance"


def test_lightsail_instance_is_a_standalone_instance(via_policy):
    props = {"availabilityZone": "us-east-1a", "blueprintId": "ubuntu_22_04", "bundleId": "small_3_0"}
    assert via_policy(NO_STANDALONE_INSTANCES, LIGHTSAIL_INSTANCE, props) == [
        "a Lightsail instance is a standalone server that nothing replaces; run app servers from a launch "
        "template in an autoscaling group, or tag a bastion with an allowed tag"
    ]
    assert via_policy(NO_STANDALONE_INSTANCES, LIGHTSAIL_INSTANCE, {**props, "tags": {"Role": "bastion"}}) == []


def test_lightsail_disk_and_attachment(via_policy):
    assert via_policy(
        NO_EBS_DATA_VOLUMES, "aws:lightsail/disk:Disk", {"availabilityZone": "us-east-1a", "sizeInGb": 32}
    ) == ["a Lightsail disk is block storage bound to one availability zone and instance"]
    attachment = {"diskName": "data", "instanceName": "app", "diskPath": "/dev/xvdf"}
    assert via_policy(NO_EBS_DATA_VOLUMES, "aws:lightsail/disk_attachment:Disk_attachment", attachment) == [
        "attaches Lightsail disk data to instance app at /dev/xvdf: data on an instance's disk pins it"
    ]


ASG = "aws:autoscaling/group:Group"
WARM_GROUP = {"minSize": 2, "maxSize": 4, "warmPool": {"poolState": "Stopped", "minSize": 1}}


def test_warm_pool_reuse_default_enforcement_is_mandatory():
    from pulumi_policy import EnforcementLevel

    from policies.rules.instance_state import NO_WARM_POOL_REUSE

    assert NO_WARM_POOL_REUSE.enforcement == EnforcementLevel.MANDATORY
    assert NO_WARM_POOL_REUSE.policy().enforcement_level == EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    "props",
    [
        {"minSize": 2, "maxSize": 4},
        WARM_GROUP,
        {**WARM_GROUP, "warmPool": {**WARM_GROUP["warmPool"], "instanceReusePolicy": {"reuseOnScaleIn": False}}},
        {**WARM_GROUP, "warmPool": {**WARM_GROUP["warmPool"], "instanceReusePolicy": {}}},
    ],
)
def test_warm_pool_without_reuse_passes(props, via_policy):
    from policies.rules.instance_state import NO_WARM_POOL_REUSE

    assert via_policy(NO_WARM_POOL_REUSE, ASG, props) == []


@pytest.mark.parametrize(("state", "shown"), [("Hibernated", "Hibernated"), (None, "Stopped")])
def test_warm_pool_reusing_instances_on_scale_in(state, shown, via_policy):
    from policies.rules.instance_state import NO_WARM_POOL_REUSE

    pool = {"minSize": 1, "instanceReusePolicy": {"reuseOnScaleIn": True}}
    if state:
        pool["poolState"] = state
    assert via_policy(NO_WARM_POOL_REUSE, ASG, {"minSize": 2, "warmPool": pool}) == [
        f"warmPool.instanceReusePolicy.reuseOnScaleIn is true: a scaled-in instance goes back to the warm pool "
        f"({shown}) with its disk and serves again later, keeping whatever it wrote"
    ]


@pytest.mark.parametrize(
    "pool",
    [
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        {"instanceReusePolicy": {"reuseOnScaleIn": "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"}},
    ],
)
def test_warm_pool_reuse_not_known_is_not_judged(pool, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    from policies.rules.instance_state import NO_WARM_POOL_REUSE

    with pytest.raises(UnknownValueError):
        via_policy(NO_WARM_POOL_REUSE, ASG, {"warmPool": pool})


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert NO_INSTANCE_DATA_VOLUMES.enforcement.value == "mandatory"
    assert NO_EBS_DATA_VOLUMES.enforcement.value == "mandatory"
    assert NO_STANDALONE_INSTANCES.enforcement.value == "mandatory"
    assert NO_ECS_HOST_VOLUMES.enforcement.value == "mandatory"
    assert NO_ECS_SHARED_FILE_SYSTEMS.enforcement.value == "mandatory"


def test_attachments_with_names_not_given_say_so(via_policy):
    assert via_policy(NO_EBS_DATA_VOLUMES, "aws:lightsail/disk_attachment:Disk_attachment", {}) == [
        "attaches Lightsail disk ? to instance ? at ?: data on an instance's disk pins it"
    ]
    assert via_policy(NO_EBS_DATA_VOLUMES, "aws:ec2/volumeAttachment:VolumeAttachment", {}) == [
        "attaches an EBS volume to instance ? at ?: data on an instance's disk pins it"
    ]


def test_warm_pool_reuse_not_known_names_the_property(via_policy):
    from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UnknownValueError

    from policies.rules.instance_state import NO_WARM_POOL_REUSE

    pool = {"instanceReusePolicy": {"reuseOnScaleIn": UNKNOWN_BOOLEAN_VALUE}}
    with pytest.raises(UnknownValueError) as raised:
        via_policy(NO_WARM_POOL_REUSE, ASG, {"warmPool": pool})
    assert raised.value.props == ["warmPool.instanceReusePolicy.reuseOnScaleIn"]


def test_device_names_match_roots_with_or_without_dev_prefix(via_policy):
    bare = {"blockDeviceMappings": [{"deviceName": "xvda", "ebs": {"volumeSize": 20}}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, bare) == []
    props = {"blockDeviceMappings": [{"deviceName": "/dev/nvme0n1", "ebs": {"volumeSize": 20}}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props, {"rootDeviceNames": ["nvme0n1"]}) == []
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == [
        "block device /dev/nvme0n1 is an extra EBS volume: launch templates may only configure the root volume"
    ]


EXTRA = "block device /dev/xvdb is an extra EBS volume: launch templates may only configure the root volume"


@pytest.mark.parametrize(
    "skipped",
    [UNKNOWN, "xvdc", {"deviceName": UNKNOWN}, {"deviceName": "/dev/sdc", "noDevice": "true"}],
    ids=["unknown-mapping", "not-a-mapping", "unknown-device", "suppressed-device"],
)
def test_a_skipped_mapping_does_not_hide_the_next_one(skipped):
    props = copy.deepcopy(ROOT_ONLY_LT)
    props["blockDeviceMappings"] += [skipped, {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 500}}]
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(LT, props) == [EXTRA]


def test_an_empty_no_device_suppresses_nothing(via_policy):
    props = copy.deepcopy(ROOT_ONLY_LT)
    props["blockDeviceMappings"].append({"deviceName": "/dev/xvdb", "noDevice": "", "ebs": {"volumeSize": 500}})
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == [EXTRA]
    props["blockDeviceMappings"][-1]["noDevice"] = "1"
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LT, props) == []


def test_launch_configuration_ebs_device_suppressed_by_no_device_is_not_flagged(via_policy):
    ok = {"rootBlockDevice": {"volumeSize": 20}}
    suppressed = {**ok, "ebsBlockDevices": [{"deviceName": "/dev/sdf", "noDevice": True}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LC, suppressed) == []
    kept = {**ok, "ebsBlockDevices": [{"deviceName": "/dev/sdf", "noDevice": False}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, LC, kept) == [
        "ebsBlockDevices adds EBS volume /dev/sdf: instances may only have a root volume"
    ]


def test_unknown_block_device_entries_are_skipped_and_later_ones_judged():
    props = {
        "ebsBlockDevices": [UNKNOWN, {"deviceName": "/dev/sdf"}],
        "ephemeralBlockDevices": [UNKNOWN, {"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}],
    }
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(INSTANCE, props) == [
        "ebsBlockDevices adds EBS volume /dev/sdf: instances may only have a root volume",
        "ephemeralBlockDevices maps instance store ephemeral0 at /dev/sdb: instance-store disks are state that "
        "dies with the instance",
    ]


def test_block_devices_without_names_say_so(via_policy):
    props = {"ebsBlockDevices": [{"volumeSize": 100}], "ephemeralBlockDevices": [{"noDevice": False}]}
    assert via_policy(NO_INSTANCE_DATA_VOLUMES, INSTANCE, props) == [
        "ebsBlockDevices adds EBS volume ?: instances may only have a root volume",
        "ephemeralBlockDevices maps instance store ? at ?: instance-store disks are state that dies with the instance",
    ]


def test_spot_fleet_judges_each_launch_specification_as_an_instance():
    fleet = "aws:ec2/spotFleetRequest:SpotFleetRequest"
    props = {
        "launchSpecifications": [
            UNKNOWN,
            # A launch template's key on a specification means nothing: it is judged as an instance.
            {"blockDeviceMappings": [{"deviceName": "/dev/xvdb"}], "rootBlockDevice": {"deleteOnTermination": False}},
            {"ephemeralBlockDevices": [{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}]},
        ]
    }
    assert NO_INSTANCE_DATA_VOLUMES.evaluate(fleet, props) == [
        "rootBlockDevice has deleteOnTermination false: the root volume outlives the instance",
        "ephemeralBlockDevices maps instance store ephemeral0 at /dev/sdb: instance-store disks are state that "
        "dies with the instance",
    ]


def test_task_volumes_without_names_say_so(via_policy):
    props = {"volumes": [{"hostPath": "/ecs/data"}, {"efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]}
    assert via_policy(NO_ECS_HOST_VOLUMES, ECS_TASK, props) == [
        "task volume ? bind-mounts host path /ecs/data on the container instance"
    ]
    assert via_policy(NO_ECS_SHARED_FILE_SYSTEMS, ECS_TASK, props) == [
        "task volume ? mounts EFS file system fs-1: tasks keep no files between runs"
    ]


@pytest.mark.parametrize("efs", [{}, {"rootDirectory": "/uploads"}, "fs-1234"])
def test_efs_mount_without_a_file_system_id_is_flagged(efs, via_policy):
    props = {**TASK, "volumes": [{"name": "uploads", "efsVolumeConfiguration": efs}]}
    assert via_policy(NO_ECS_SHARED_FILE_SYSTEMS, ECS_TASK, props) == [
        "task volume uploads mounts EFS file system ?: tasks keep no files between runs"
    ]
