"""Embedded environments: they synthesize with no AWS account and no credentials.

The account and certificate ARNs are placeholders (the documentation account
111111111111); deploy with your own environment file (see README).
"""

from typing import Any

PLACEHOLDER_ACCOUNT = "111111111111"
# A placeholder identity account whose IAM users (with MFA) reach the break-glass role.
PLACEHOLDER_IDENTITY_ACCOUNT = "222222222222"
# The embedded environments have no client PKI, so no CRL: the trust store checks no revocation, an accepted
# risk with its governance (card_vault.client_crl_waiver; roles as placeholders, approval pending). A real
# environment publishes its client CA's CRL and sets card_vault.client_crl instead.
DEMO_CLIENT_CRL_WAIVER: dict[str, str] = {
    "reason": (
        "Demonstration environment with no client PKI yet: the client CA (config/certs/demo-client-ca.pem) had its"
        " private key discarded, so it issues no certificates and publishes no CRL; before real cardholder data"
        " the client CA's CRL is published to a versioned S3 bucket and set as card_vault.client_crl."
    ),
    "owner": "platform-security",
    "approver": "payments-risk-committee",
    "approval_date": "pending",
    "ticket": "pending",
    "review_by": "2027-11-01",
}

EMBEDDED_ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "default": {
        "name": "default",
        "account": PLACEHOLDER_ACCOUNT,
        "home_region": "us-east-1",
        "regions": {
            "us-east-1": {
                "vpc_cidr": "10.10.0.0/16",
                "certificate_arn": (
                    f"arn:aws:acm:us-east-1:{PLACEHOLDER_ACCOUNT}:certificate/00000000-0000-4000-8000-00000000ce01"
                ),
            },
            "us-west-2": {
                "vpc_cidr": "10.20.0.0/16",
                "certificate_arn": (
                    f"arn:aws:acm:us-west-2:{PLACEHOLDER_ACCOUNT}:certificate/00000000-0000-4000-8000-00000000ce02"
                ),
            },
        },
        "az_count": 2,
        "allowed_ingress_cidrs": ["0.0.0.0/0"],
        "domain_name": "payments.example.com",
        "alarm_email": "security-alerts@example.com",
        "log_retention_days": 365,
        # A placeholder custodian role: keys get administrators who can never decrypt (PCI DSS 3.6.1.2).
        "key_administrator_role_arns": [f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/pci-lz-key-administrator"],
        "audit": {"object_lock_mode": "GOVERNANCE", "archive_retention_days": 365},
        # Operators arrive through IAM Identity Center permission sets (MFA at the identity provider);
        # break-glass through IAM users of an identity account, with MFA required in the trust.
        "identity": {
            "administrator_principals": [
                f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PciPlatformAdmin_*"
            ],
            "auditor_principals": [
                f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PciAssessor_*"
            ],
            "break_glass_principals": [f"arn:aws:iam::{PLACEHOLDER_IDENTITY_ACCOUNT}:user/break-glass-1"],
        },
        # The card vault with the demonstration client CA (config/certs/demo-client-ca.pem), a
        # placeholder role allowed to detokenize and, with no client PKI, the waiver of the client CRL.
        "card_vault": {
            "detokenize_caller_role_arns": [f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/pci-lz-card-vault-detokenizer"],
            "client_crl_waiver": DEMO_CLIENT_CRL_WAIVER,
        },
    },
}
