"""kms-key-rotation (policies/rules/kms.py)."""

from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

from policies.rules.kms import KMS_KEY_ROTATION

KEY_T = "aws:kms/key:Key"


def test_symmetric_key_rotation(via_policy):
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"enableKeyRotation": True}) == []
    for props in ({}, {"enableKeyRotation": False}, {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}):
        assert via_policy(KMS_KEY_ROTATION, KEY_T, props) == [
            "enableKeyRotation is not true: the symmetric key's material never changes"
        ]


def test_keys_that_cannot_rotate_are_not_judged(via_policy):
    signing = {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}
    assert via_policy(KMS_KEY_ROTATION, KEY_T, signing) == []
    assert (
        via_policy(KMS_KEY_ROTATION, KEY_T, {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"})
        == []
    )
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"enableKeyRotation": UNKNOWN_BOOLEAN_VALUE}) == []


def test_a_key_is_judged_only_when_both_spec_and_usage_are_symmetric_encryption(via_policy):
    # An asymmetric encryption key and a symmetric-spec key used otherwise both cannot rotate.
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"customerMasterKeySpec": "RSA_4096"}) == []
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"keyUsage": "GENERATE_VERIFY_MAC"}) == []
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"keyUsage": "ENCRYPT_DECRYPT"}) == [
        "enableKeyRotation is not true: the symmetric key's material never changes"
    ]
    assert KMS_KEY_ROTATION.enforcement.value == "advisory"
