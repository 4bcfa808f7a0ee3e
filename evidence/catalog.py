"""Curated tables the compliance report reads: requirement titles, Security Hub controls, customer duties.

Kept small and reviewable on purpose; the report says which entries it used.

- `TITLES`: short paraphrases of PCI DSS v4.0.1 requirement statements (PCI Security Standards
  Council, "Payment Card Industry Data Security Standard: Requirements and Testing Procedures",
  v4.0.1, June 2024). A requirement missing here is shown under its principal requirement's title.
- `SECURITY_HUB_CONTROLS`: AWS Security Hub CSPM controls of the PCI DSS v4.0.1 standard, keyed by
  the AWS Config managed rule each control evaluates (the control's "AWS Config rule" field), with
  the requirements listed under "Related requirements: PCI DSS v4.0.1/..." on the control's page
  of the AWS Security Hub CSPM User Guide (S3, RDS, EC2, ELB and CloudTrail control references).
  Only controls whose Config rule the project's conformance pack also deploys are listed, so each
  row is watched twice after deploy.
- `CUSTOMER_RESPONSIBILITIES`: what the infrastructure cannot do for the customer.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD = "PCI DSS v4.0.1"

PRINCIPAL_TITLES = {
    "1": "Install and maintain network security controls",
    "2": "Apply secure configurations to all system components",
    "3": "Protect stored account data",
    "4": "Protect cardholder data with strong cryptography during transmission over open, public networks",
    "5": "Protect all systems and networks from malicious software",
    "6": "Develop and maintain secure systems and software",
    "7": "Restrict access to system components and cardholder data by business need to know",
    "8": "Identify users and authenticate access to system components",
    "9": "Restrict physical access to cardholder data",
    "10": "Log and monitor all access to system components and cardholder data",
    "11": "Test security of systems and networks regularly",
    "12": "Support information security with organizational policies and programs",
}

TITLES = {
    "1.2.1": "Configuration standards for network security controls are defined, implemented and maintained",
    "1.2.2": "Changes to network connections and NSC configurations are approved and managed",
    "1.2.3": "An accurate network diagram shows all connections between the CDE and other networks",
    "1.2.4": "An accurate data-flow diagram shows all account data flows across systems and networks",
    "1.2.5": "All services, protocols and ports allowed are identified, approved and have a business need",
    "1.2.7": "NSC configurations are reviewed at least once every six months",
    "1.3.1": "Inbound traffic to the CDE is restricted to only what is necessary",
    "1.3.2": "Outbound traffic from the CDE is restricted to only what is necessary",
    "1.4.1": "NSCs are implemented between trusted and untrusted networks",
    "1.4.2": "Inbound traffic from untrusted networks to trusted networks is restricted",
    "1.4.4": "System components that store cardholder data are not directly accessible from untrusted networks",
    "2.2.1": "Configuration standards are developed, implemented and maintained",
    "2.2.6": "System security parameters are configured to prevent misuse",
    "3.2.1": "Account data storage is kept to a minimum with retention and disposal policies",
    "3.5.1": "PAN is rendered unreadable anywhere it is stored",
    "3.5.1.1": "Hashes rendering PAN unreadable are keyed cryptographic hashes of the entire PAN",
    "3.5.1.2": "Disk-level encryption renders PAN unreadable only on removable media (else also 3.5.1)",
    "3.5.1.3": "Where disk-level encryption renders PAN unreadable, its access is managed apart from the OS",
    "3.6.1": "Procedures protect cryptographic keys used to protect stored account data",
    "3.7.2": "Key-management procedures cover secure key distribution",
    "3.7.4": "Cryptographic keys are changed at the end of their defined cryptoperiod",
    "3.7.8": "Key custodians formally acknowledge their key-custodian responsibilities",
    "4.2.1": "Strong cryptography protects PAN during transmission over open, public networks",
    "6.3.3": "Security vulnerabilities are addressed by installing patches and updates",
    "6.4.2": "An automated technical solution detects and prevents web-based attacks on public-facing web apps",
    "6.4.3": "Payment-page scripts loaded in the consumer's browser are managed",
    "7.2.1": "An access control model is defined and grants access by need to know",
    "7.2.2": "Access is assigned based on job classification and least privilege",
    "8.2.2": "Shared, group or generic accounts are used only when necessary and are managed",
    "8.2.6": "Inactive user accounts are removed or disabled within 90 days",
    "8.3.2": "Strong cryptography renders authentication factors unreadable in transmission and storage",
    "8.3.6": "Passwords meet minimum length and complexity",
    "8.3.7": "Passwords cannot equal any of the last four used",
    "8.3.8": "Authentication policies and procedures are documented and communicated to all users",
    "8.3.9": "Passwords or passphrases are changed at least every 90 days (or access is analysed dynamically)",
    "8.4.1": "MFA is implemented for all non-console access into the CDE for administrators",
    "8.4.2": "MFA is implemented for all access into the CDE",
    "8.6.1": "Interactive login to system or application accounts is managed",
    "8.6.3": "Passwords for application and system accounts are protected and changed periodically",
    "10.2.1": "Audit logs are enabled and active for all system components and cardholder data",
    "10.2.2": "Audit logs record the required details for each auditable event",
    "10.3.2": "Audit log files are protected from modification",
    "10.3.3": "Audit log files are promptly backed up to a secure, central store",
    "10.3.4": "File integrity monitoring or change detection protects audit logs",
    "10.4.1": "Security events and critical-component logs are reviewed at least daily",
    "10.4.1.1": "Automated mechanisms perform audit log reviews",
    "10.5.1": "Audit log history is retained for at least 12 months, three months immediately available",
    "10.6.1": "System clocks and time are synchronized",
    "10.7.2": "Failures of critical security control systems are detected, alerted and addressed",
    "11.3.1": "Internal vulnerability scans are performed at least every three months",
    "11.3.2": "External vulnerability scans are performed by an ASV at least every three months",
    "11.4.1": "A penetration-testing methodology is defined and testing is performed",
    "11.5.1": "Intrusion-detection or -prevention techniques detect and/or prevent intrusions into the network",
    "12.8.1": "A list of third-party service providers with which account data is shared is maintained",
    "12.10.1": "An incident response plan exists and is ready to be activated",
    "1.5.1": "Security controls are on computing devices connecting to both untrusted networks and the CDE",
    "2.2.2": "Vendor default accounts are managed",
    "3.6.1.2": "Secret and private keys are stored only in approved forms (encrypted, secure device, components)",
    "3.7.5": "Keys are retired, replaced or destroyed when their integrity is weakened or they reach end of use",
    "4.2.1.1": "An inventory of the entity's trusted keys and certificates is maintained",
    "5.2.2": "The deployed anti-malware solution detects and removes, blocks or contains all known malware",
    "6.2.3": "Bespoke and custom software is reviewed before release to identify and correct coding vulnerabilities",
    "6.2.4": "Software engineering techniques prevent or mitigate common software attacks in bespoke software",
    "6.3.1": "New security vulnerabilities are identified and assigned a risk ranking",
    "6.5.1": "Changes to production system components follow established change procedures",
    "7.3.1": "An access control system restricts access by need to know and covers all system components",
    "8.2.1": "Every user is assigned a unique ID before access to system components or cardholder data",
    "8.3.1": "All user access is authenticated with at least one authentication factor",
    "8.3.10.1": "Service providers only: customer users' single-factor passwords are changed every 90 days"
    " (or access is analysed dynamically)",
    "8.6.2": "Passwords of interactive application and system accounts are not hard-coded in scripts or files",
    "10.2.1.1": "Audit logs capture all individual user access to cardholder data",
    "10.2.1.7": "Audit logs capture all creation and deletion of system-level objects",
    "10.4.2": "Logs of all other system components are reviewed periodically",
    "11.5.2": "A change-detection mechanism alerts on unauthorized modification of critical files",
    "12.3.4": "Hardware and software technologies in use are reviewed at least once every 12 months",
    "12.4.2": "Service providers only: reviews at least quarterly confirm personnel perform their security tasks",
}


def title(requirement: str) -> str:
    """The requirement's short title, else its principal requirement's."""
    if requirement in TITLES:
        return TITLES[requirement]
    return PRINCIPAL_TITLES.get(requirement.split(".", 1)[0], "")


@dataclass(frozen=True)
class SecurityHubControl:
    control_id: str
    config_rule: str  # AWS Config managed rule identifier (SourceIdentifier)
    requirements: tuple[str, ...]


SECURITY_HUB_CONTROLS: tuple[SecurityHubControl, ...] = (
    SecurityHubControl("CloudTrail.2", "CLOUD_TRAIL_ENCRYPTION_ENABLED", ("10.3.2",)),
    SecurityHubControl("EC2.13", "INCOMING_SSH_DISABLED", ("1.3.1",)),
    SecurityHubControl("ELB.1", "ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK", ("4.2.1",)),
    SecurityHubControl("RDS.9", "RDS_LOGGING_ENABLED", ("10.2.1",)),
    SecurityHubControl("S3.5", "S3_BUCKET_SSL_REQUESTS_ONLY", ("4.2.1",)),
    SecurityHubControl("S3.8", "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", ("1.4.4",)),
    SecurityHubControl("S3.9", "S3_BUCKET_LOGGING_ENABLED", ("10.2.1",)),
    SecurityHubControl("S3.17", "S3_DEFAULT_ENCRYPTION_KMS", ("3.5.1",)),
)

# 5.2.2 in the report and in the responsibility matrix (evidence/workpapers.py) say the same: the templates
# deploy no anti-malware solution; GuardDuty's threat detection (runtime monitoring, Lambda network
# activity, S3) is not claimed for 5.2.2, and the vault's functions run on AWS-managed Lambda hosts.
ANTI_MALWARE_TEMPLATES = (
    "none: no anti-malware solution in the templates; GuardDuty threat detection is not claimed as 5.2.2"
    " anti-malware, and the functions run on AWS-managed Lambda hosts (AWS's under its AOC)"
)
ANTI_MALWARE_CUSTOMER = (
    "Evaluate the systems of the CDE for malware risk (5.2.3 for components judged not at risk) and deploy an"
    " anti-malware solution (5.2.2) on any system added that is at risk; GuardDuty findings are detection only."
)

CUSTOMER_RESPONSIBILITIES = {
    "1.2.2": "Route every change to the network code through reviewed pull requests and keep the approvals;"
    " the report's diff between commits is the change record to attach.",
    "1.2.5": "Approve each allowed flow listed in the flow table below and record its business need.",
    "1.2.7": "Review the network diagram and flow table at least every six months and record the review.",
    "3.2.1": "Define how long card data is kept and delete it when the period ends (application logic).",
    "3.7.8": "Have every key custodian (the holders of the key administrator roles, and whoever runs the vault's"
    " Keys and rewrap jobs) acknowledge their responsibilities in writing or electronically, and keep the records.",
    "5.2.2": ANTI_MALWARE_CUSTOMER,
    "6.3.3": "Patch application code and its dependencies; keep runtime and engine minor versions current.",
    "6.4.3": "Inventory, authorise and integrity-check every script on the payment page.",
    "8.3.8": "Document the authentication policies and procedures and communicate them to every user; keep the"
    " distribution record.",
    "8.4.2": "Enforce MFA for every human access into the CDE (IAM Identity Center or the identity provider).",
    "10.4.1": "Review security events and the alarms this landing zone raises at least daily.",
    "11.3.1": "Run internal vulnerability scans at least quarterly and after significant changes.",
    "11.3.2": "Have an Approved Scanning Vendor scan the internet-facing endpoints at least quarterly.",
    "11.4.1": "Penetration-test the CDE boundary and segmentation controls at least yearly.",
    "12.8.1": "Keep the list of third-party service providers (AWS included) and their PCI DSS status.",
    "12.10.1": "Keep an incident response plan that uses the alarms, GuardDuty and Security Hub findings.",
}


# -- what each line of template evidence supports, and what it cannot show ---------------------------
# The v4.0.1 defined-approach testing procedure a configuration examination of the templates supports,
# paraphrased (never quoted) from "Requirements and Testing Procedures" v4.0.1: the procedure that
# examines system or NSC configurations. Every requirement a synth rule or a statement cites has an
# entry (tests/test_evidence_catalog.py); each identifier is in evidence/pci_dss_v4_0_1_ids.txt, where
# "read" marks the procedures whose wording was compared and "tree" those only found in the
# requirement tree (the paraphrase then says "procedure wording not compared"). A requirement with a
# single testing procedure carries its own number (10.2.1, 1.4.2, 6.4.2, 8.3.7, ...).
# Checked against the standard's text on 2026-12-02: 3.5.1 cites .a (the system), not .b (repository
# contents); 3.5.1.1 cites .a (the keyed-hash method; .b is the key-management documentation); 10.7.2
# cites .b (.a examines documentation); 2.2.1 cites .c (configuration settings; .a/.b are standards and
# policies); 6.3.3 .b (installed versions against the latest); 8.3.1 .a (the documented factors; .b
# observes an authentication); 8.6.2 .b (scripts and configuration files); 11.5.2 .b (the mechanism's
# settings); 2.2.2 .c (configuration files: unused vendor defaults removed); 2.2.6 .b (configurations).
# Compared on 2026-12-03 (evidence/pci_dss_v4_0_1_ids.txt, fifth pass): 6.2.4, 7.3.1 and 12.3.4 (one
# procedure each), 8.3.2 .a, and 6.3.1 and 10.4.2, which have lettered procedures: .b (the process observed,
# documentation and interviews; .a examines policies). Still "wording not compared" (no stored source has
# the procedure text): 6.5.1, 7.2.1.b, 8.2.2.a, 8.3.9, 8.3.10.1, 8.6.3, 11.3.1, 11.5.1.a and 3.7.8.
_NOT_COMPARED = "procedure wording not compared"
TESTING_PROCEDURES = {
    "1.2.1": ("1.2.1.b", "examine NSC ruleset configuration settings against the configuration standards"),
    "1.2.3": ("1.2.3.a", "examine the network diagram and the network configurations"),
    "1.2.4": ("1.2.4.a", "examine the data-flow diagram"),
    "1.3.1": ("1.3.1.b", "examine NSC configurations: inbound traffic to the CDE is restricted"),
    "1.3.2": ("1.3.2.b", "examine NSC configurations: outbound traffic from the CDE is restricted"),
    "1.4.1": ("1.4.1.b", "examine NSC configurations between trusted and untrusted networks"),
    "1.4.2": ("1.4.2", "examine NSC configurations: inbound traffic from untrusted networks"),
    "1.4.4": ("1.4.4.b", "examine NSC configurations: stores not directly reachable from untrusted networks"),
    "2.2.1": ("2.2.1.c", "examine configuration settings: the configuration standards are applied"),
    "2.2.2": ("2.2.2.c", "examine configuration files: vendor default accounts not used are removed or disabled"),
    "2.2.6": ("2.2.6.b", "examine system configurations: security parameters set to prevent misuse"),
    "3.5.1": ("3.5.1.a", "examine the system that renders PAN unreadable: method and algorithms"),
    "3.5.1.1": ("3.5.1.1.a", "examine the hashing method: keyed cryptographic hashes of the entire PAN"),
    "3.5.1.2": ("3.5.1.2.a", "examine encryption processes: disk-level encryption only as 3.5.1.2 allows"),
    "3.5.1.3": ("3.5.1.3.a", "examine the configuration and authentication of disk-level encryption used for PAN"),
    "3.6.1": ("3.6.1", "examine key-management documentation and configurations"),
    "3.7.4": ("3.7.4.b", "examine documentation and key storage: keys changed at the end of the cryptoperiod"),
    "3.7.8": ("3.7.8", f"custodians' formal acknowledgment of their responsibilities ({_NOT_COMPARED})"),
    "4.2.1": ("4.2.1.b", "examine system configurations: strong cryptography and security protocols"),
    "5.2.2": (
        "5.2.2",
        "examine vendor documentation and configurations: the anti-malware solution detects and removes,"
        " blocks or contains all known malware",
    ),
    "6.2.4": (
        "6.2.4",
        "examine documented procedures, interview developers: engineering techniques against common software"
        " attacks are defined and in use in bespoke and custom software",
    ),
    "6.3.1": (
        "6.3.1.b",
        "interview personnel, examine documentation, observe processes: vulnerabilities are identified and"
        " risk-ranked (6.3.1.a: policies and procedures)",
    ),
    "6.3.3": ("6.3.3.b", "examine system components: installed versions against the latest security updates"),
    "6.4.2": (
        "6.4.2",
        "examine the automated technical solution's configuration settings and audit logs, interview personnel",
    ),
    "6.5.1": ("6.5.1", f"changes to production follow the change procedures ({_NOT_COMPARED})"),
    "7.2.1": ("7.2.1.b", f"examine access control settings against the access control model ({_NOT_COMPARED})"),
    "7.2.2": ("7.2.2.b", "examine user access settings, privileged users included: least privilege"),
    "7.3.1": (
        "7.3.1",
        "examine vendor documentation and system settings: an access control system manages access to each"
        " component on need to know",
    ),
    "8.2.1": (
        "8.2.1.b",
        "examine audit logs and other evidence: access is associated with individuals (8.2.1.a: interviews)",
    ),
    "8.2.2": ("8.2.2.a", f"examine user account lists for shared, group or generic accounts ({_NOT_COMPARED})"),
    "8.3.1": ("8.3.1.a", "examine the authentication factors used (8.3.1.b observes an authentication)"),
    "8.3.2": (
        "8.3.2.a",
        "examine vendor documentation and system configuration settings: authentication factors unreadable"
        " with strong cryptography in transmission and storage",
    ),
    "8.3.6": ("8.3.6", "examine system configuration settings: user password complexity parameters"),
    "8.3.7": ("8.3.7", "examine system configuration settings: no reuse of the last four passwords"),
    "8.3.8": ("8.3.8.a", "examine procedures and interview personnel: authentication policies distributed to users"),
    "8.3.9": ("8.3.9", f"examine system configuration settings: 90-day change or dynamic analysis ({_NOT_COMPARED})"),
    "8.3.10.1": ("8.3.10.1", f"service providers: customer users' password changes ({_NOT_COMPARED})"),
    "8.6.2": ("8.6.2.b", "examine scripts, configuration files and source code: no passwords of system accounts"),
    "8.6.3": ("8.6.3", f"application and system account passwords protected against misuse ({_NOT_COMPARED})"),
    "10.2.1": ("10.2.1", "examine audit log configurations: logs enabled and active"),
    "10.2.1.1": ("10.2.1.1", "examine audit log configurations and log data: individual access to cardholder data"),
    "10.2.1.7": (
        "10.2.1.7",
        "examine audit log configurations and log data: creation and deletion of system-level objects are logged",
    ),
    "10.3.2": ("10.3.2", "examine system configurations and privileges: log files protected from modification"),
    "10.3.3": ("10.3.3", "examine backup configurations of audit logs"),
    "10.3.4": ("10.3.4", "examine settings and monitored files of change-detection mechanisms"),
    "10.4.1": ("10.4.1.b", "observe processes, interview personnel: the logs are reviewed daily (10.4.1.a: policies)"),
    "10.4.1.1": ("10.4.1.1", "examine log review mechanisms: automated mechanisms perform log reviews"),
    "10.4.2": (
        "10.4.2.b",
        "examine documented results of log reviews, interview personnel: the logs of all other components are"
        " reviewed periodically (10.4.2.a: policies and procedures)",
    ),
    "10.5.1": ("10.5.1.b", "examine audit log retention configuration"),
    "10.7.2": ("10.7.2.b", "observe detection and alerting: a failed critical security control raises an alert"),
    "11.3.1": ("11.3.1", f"internal vulnerability scans ({_NOT_COMPARED})"),
    "11.5.1": ("11.5.1.a", f"examine system configurations of intrusion-detection techniques ({_NOT_COMPARED})"),
    "11.5.2": ("11.5.2.b", "examine the change-detection mechanism's settings: alerts and weekly comparisons"),
    "12.3.4": (
        "12.3.4",
        "examine documentation of the review of hardware and software technologies in use, interview personnel",
    ),
}

# Per requirement, what template evidence cannot show: the procedures that need interviews,
# documents, approvals or the running environment. Requirements missing here get LIMIT_DEFAULT.
LIMIT_DEFAULT = (
    "the deployed state (drift, manual changes), the people and processes that operate it, and any"
    " interview or documentation procedure of this requirement"
)
# What stands here without a parsed model; a synth states the principals its trust policies name instead
# (evidence.report.beyond_the_templates, QSA reader r20d HIGH 3: prod trusts no break-glass user).
_BREAK_GLASS = (
    "every IAM user a role's trust policy names (a break-glass user among them) exists outside the templates,"
    " which create none: its ID management and authentication are not evidenced"
)
# The requirements whose statements name the principals the trust policies trust (derived per model).
TRUSTED_PRINCIPAL_REQUIREMENTS = ("8.2.1", "8.2.2", "8.3.1")
_IAM_LOGIN_POLICY = (
    "the IAM password policy applies to IAM users outside the templates (the templates create none): not evidenced"
)
LIMITS = {
    "1.2.3": "that the diagram is kept accurate and updated (1.2.3.b: documentation and interviews),"
    " and connections made outside these templates",
    "1.2.4": "that the diagram is kept accurate and updated (1.2.4.b), and account data flows in systems"
    " and processes outside these templates",
    "3.5.1": "PAN written by application code outside the vault (logs, files, queues), and the data"
    " repositories' actual contents (3.5.1.b examines them)",
    "7.2.1": "the documented access control model and its approval (7.2.1.a)",
    "7.2.2": "that privileges match job functions (7.2.2.a: interviews and documentation)",
    "10.2.1": "that logs stay enabled after deploy (Config rules below watch that)",
    "10.5.1": "retention applied after deploy and backups of the logs outside AWS",
    "1.2.7": "the six-monthly review itself: documentation and interview only",
    "3.7.4": "the cryptoperiod of the two HMAC_256 keyed-hash keys: KMS does not rotate HMAC keys"
    " automatically; manual rotation through the vault's Keys function is not evidenced",
    "6.2.4": "engineering techniques in bespoke software: documentation and interview only",
    "3.7.8": "the custodians' acknowledgments: records of people outside the templates (not evidenced)",
    "8.3.8": "the policies' distribution and users' familiarity (8.3.8.a-c: procedures, their content, interviews);"
    " records outside the templates (not evidenced)",
    "5.2.2": "anti-malware on systems: the templates deploy none (not evidenced)",
    "3.5.1.3": "nothing more: it applies only where disk-level encryption is what renders PAN unreadable",
    "10.2.1.1": "individual user access to cardholder data held in RDS: pgaudit's object auditing logs the"
    " changes the vault's migrations grant its role, not reads, and the API function's recorded caller is the"
    " load balancer's principal; the vault's `vault.detokenize_audit` rows are data, examined in the deployed"
    " database",
    "12.4.2": "applies to service providers only; the quarterly review is not evidenced by templates",
    "8.2.1": _BREAK_GLASS,
    "8.2.2": _BREAK_GLASS + "; people and identity-provider accounts outside AWS IAM",
    "8.3.1": _BREAK_GLASS,
    "8.3.6": _IAM_LOGIN_POLICY,
    "8.3.7": _IAM_LOGIN_POLICY,
    "8.3.9": _IAM_LOGIN_POLICY,
}

# Requirements where the section itself states identities outside the templates: a rule about absence
# (no IAM user in the templates) cannot carry them, since the section says such a user exists beyond them.
# Their template evidence is "not evidenced" beyond the templates, with the statement given here.
BEYOND_THE_TEMPLATES = {
    "8.2.1": _BREAK_GLASS,
    "8.2.2": _BREAK_GLASS,
    "8.3.1": _BREAK_GLASS,
    "8.3.6": _IAM_LOGIN_POLICY,
    "8.3.7": _IAM_LOGIN_POLICY,
    "8.3.9": _IAM_LOGIN_POLICY,
}
# Of those, the requirements whose examined resource governs no user the section names: the password policy
# the templates set (PCI4-ACCOUNT-GUARD-VALUES) is that of an account where the templates create no IAM user
# (PCI4-IAM-NO-USERS), while the IAM users the templates trust (break-glass) sign in to another account, whose
# policy no template sets (QSA reader r20c MEDIUM 2). When every trusted IAM user is in an account whose policy
# was examined, the examined policy is theirs and the requirement reads as examined
# (evidence.report.beyond_the_templates derives the users and accounts from the trust policies).
PASSWORD_POLICY_REQUIREMENTS = ("8.3.6", "8.3.7", "8.3.9")

# Requirements that are a process (a review, a test, a plan, a periodic activity performed by people):
# the synth rules mapped to them examine only prerequisites (the logs exist, the runtime is current, Config
# records), which support the requirement but are not it. Each such rule line reads "supports; the
# requirement itself is a process: not evidenced", and the requirement is counted as not evidenced.
# Reviewed against every requirement the rule pack and the conformance pack name, 2026-12-02
# (tests/test_evidence_catalog.py lists them).
PROCESS_REQUIREMENTS = {
    "1.2.7": "the six-monthly review of NSC configurations",
    "6.3.1": "identifying new security vulnerabilities and assigning each a risk ranking",
    "10.4.1": "the daily review of security events and critical components' logs",
    "10.4.2": "the periodic review of the logs of all other system components (WAF logging and the"
    " databases' log exports are its prerequisites: the logs exist to be reviewed)",
    "11.3.1": "the quarterly internal vulnerability scans and their rescans",
    "11.5.2": "the weekly comparison of critical files and the response to its alerts (Config recording is"
    " its prerequisite: the change record exists)",
    "12.3.4": "the yearly review of hardware and software technologies in use (a runtime not deprecated"
    " is its prerequisite: it says what is in use today, not that it was reviewed)",
    "12.4.2": "the quarterly reviews that personnel perform their security tasks (service providers)",
    "12.10.1": "the incident response plan and its readiness",
}

# Why each `related` requirement of a rule (`pci_rules.rule.Rule.related`, pack 1.9.0) is not evidence of it:
# the rule's finding says nothing the requirement's testing procedure examines (reviewed per rule, the reason
# stated). Such a pair is named under the requirement ("related, not evidence") and neither supports nor lowers
# its statement. Until pack 1.9.0 these pairs sat in the rule's `requirements` and were excluded here
# (UNRELATED_MAPPINGS); the exclusions became the model's `related`, so no pair of a rule's `requirements` may
# be here (tests/test_evidence_catalog.py), and every related pair must be.
_NO_PAN_MECHANISM = (
    " 3.5.1.2.a examines that PAN on non-removable media is also rendered unreadable by a 3.5.1 mechanism;"
    " the store's own encryption renders nothing unreadable to its readers, so it is not that evidence"
    " (PCI4-CARD-DATA-FIELD-ENCRYPTION's report line is)"
)
_KEY_PROCEDURES = (
    "3.6.1's testing procedure examines the documented key-management procedures (custodians, key-encrypting"
    " keys, storage); a customer-managed key makes them applicable to the store but is not them"
)
INTERNAL_TRANSIT = "internal transit, not transmission over open, public networks (an internal-transit note)"
RELATED_NOT_EVIDENCE = {
    ("PCI4-RDS-BACKUPS", "12.10.1"): "backups are not an incident response plan",
    ("PCI4-IAM-TRUST-SCOPED", "8.2.2"): "trust-policy scoping concerns who may assume a role, not shared accounts",
    # 3.5.1 rests only on the vault's field-level envelope encryption and keyed hash (report lines);
    # storage- or disk-level encryption is what 3.5.1.2 limits, and the rest are not stored PAN.
    ("PCI4-EKS-SECRETS-ENCRYPTED", "3.5.1"): "Kubernetes secrets encryption does not protect stored PAN",
    ("PCI4-LAMBDA-ENV-ENCRYPTED", "3.5.1"): "Lambda environment variables hold no PAN",
    ("PCI4-RDS-CUSTOMER-KEY", "3.5.1"): "storage encryption key choice is disk-level (3.5.1.2), not field-level",
    ("PCI4-RDS-DELETION-PROTECTION", "3.5.1"): "deletion protection does not render PAN unreadable",
    # The one S3 store that may hold PAN is the load balancer's access-log bucket (a card number a client puts
    # in a URL; evidence.scope.card_data_stores): Elastic Load Balancing delivers only to SSE-S3, which any
    # reader with s3:GetObject sees through, so bucket encryption is storage-level and does not render that
    # PAN unreadable; the bucket is a CDE store with a retention limit (data-stores work paper, 3.2.1).
    ("PCI4-S3-ENCRYPTION", "3.5.1"): "bucket encryption is storage-level and transparent to readers: it does"
    " not render PAN unreadable (the access-log bucket that may hold PAN is a CDE store, data-stores paper)",
    ("PCI4-S3-CUSTOMER-KEY", "3.5.1"): "a bucket's key choice is storage-level encryption: it does not render PAN"
    " unreadable to a reader the key policy admits (the access-log bucket that may hold PAN takes SSE-S3 only)",
    ("PCI4-SECRET-CUSTOMER-KEY", "3.5.1"): "Secrets Manager holds credentials, not PAN",
    ("PCI4-SNS-ENCRYPTED", "3.5.1"): "SNS topics carry alarms, not stored PAN",
    ("PCI4-STATEFUL-RETAINED", "3.5.1"): "a retention policy does not render PAN unreadable",
    ("PCI4-TRAIL-KMS", "3.5.1"): "trail encryption protects logs, not stored PAN",
    ("PCI4-NETWORK-FIREWALL-POSTURE", "1.5.1"): "1.5.1 concerns NSCs on computing devices connecting to the CDE"
    " and untrusted networks, not the Network Firewall",
    ("PCI4-SECURITYHUB-PCI-V401", "12.4.2"): "12.4.2 is a service-provider review of personnel duties;"
    " a Security Hub standard subscription is not it",
    ("PCI4-ECR-SCAN-ON-PUSH", "11.3.1"): "11.3.1's testing procedures examine the internal scan reports of at least"
    " every three months and their rescans; a repository's scan-on-push setting is not a report, only a source"
    " of the scans they summarise",
    ("PCI4-ECR-SCAN-ON-PUSH", "6.2.3"): "image scanning finds known vulnerabilities in packages, not a review"
    " of bespoke code before release; the rule carries Security Hub ECR.1's requirement for the crosswalk only",
    ("PCI4-ECR-SCAN-ON-PUSH", "6.2.4"): "image scanning finds known vulnerabilities in packages, not engineering"
    " techniques in bespoke software; the rule carries Security Hub ECR.1's requirement for the crosswalk only",
    ("PCI4-DOCDB-BACKUP-RETENTION", "3.2.1"): "a minimum backup retention keeps data, it is not a retention and"
    " disposal policy; the rule carries Security Hub DocumentDB.2's requirement for the crosswalk only",
    ("PCI4-ELB-DESYNC-MITIGATION", "6.2.4"): "6.2.4 concerns engineering techniques in bespoke software,"
    " not load-balancer settings",
    ("PCI4-ELB-DROP-INVALID-HEADERS", "6.2.4"): "6.2.4 concerns engineering techniques in bespoke software,"
    " not load-balancer settings",
    ("PCI4-ELB-DESYNC-MITIGATION", "6.4.2"): "6.4.2 is an automated technical solution that detects and prevents"
    " web-based attacks (a WAF in front of the application); refusing desync requests hardens the load balancer"
    " but is not that solution",
    ("PCI4-ELB-DROP-INVALID-HEADERS", "6.4.2"): "6.4.2 is an automated technical solution that detects and prevents"
    " web-based attacks (a WAF in front of the application); dropping invalid header fields hardens the load"
    " balancer but is not that solution",
    ("PCI4-ELB-ACM-CERTIFICATE", "4.2.1.1"): "4.2.1.1 is an inventory of trusted keys and certificates;"
    " the TLS work paper is an input to it, not the inventory",
    ("PCI4-TRAIL-DATA-EVENTS", "10.2.1.7"): "creation/deletion of system-level objects are management events,"
    " not data events",
    ("PCI4-TRAIL-MANAGEMENT-EVENTS", "10.2.1.1"): "KMS Decrypt and GenerateMac events (management events the rule"
    " keeps) record each use of the vault's keys by a role, not which individual user reached which cardholder"
    " data; that is the data events' and the vault's own audit rows'",
    ("PCI4-EC2-NACL-IN-USE", "1.2.7"): "the six-monthly review is documentation and interview only",
    ("PCI4-KMS-CUSTODIAN-SEPARATION", "3.6.1.2"): "3.6.1.2 concerns the form keys are stored in (KMS,"
    " HSM-backed), not custodian separation",
    ("PCI4-KMS-DELETION-WINDOW", "3.7.5"): "a 30-day deletion window is not key retirement or replacement",
    ("PCI4-SNS-ENCRYPTED", "10.3.2"): "SNS topics are not audit logs",
    ("PCI4-RDS-DELETION-PROTECTION", "10.5.1"): "database deletion protection is not audit log retention",
    ("PCI4-STATEFUL-RETAINED", "10.5.1"): "a retained resource is not audit log retention",
    ("PCI4-DOCDB-BACKUP-RETENTION", "10.5.1"): "database backup retention is not audit log retention",
    ("PCI4-TRAIL-MULTI-REGION", "10.2.2"): "multi-region is coverage (10.2.1), not the record's contents",
    ("PCI4-ACCOUNT-GUARD-VALUES", "1.4.4"): "an IAM password policy does not keep stores off untrusted networks",
    ("PCI4-SECRET-ROTATION", "8.3.9"): "database master-secret rotation is 8.6.3 (system accounts), not 8.3.9",
    # Reviewed with every other pair (evidence/mapping_reasons.py), 2026-12-02:
    ("PCI4-LAMBDA-IN-VPC", "1.4.4"): "1.4.4 concerns components that store cardholder data; a function stores"
    " none (the functions outside a VPC are CDK's deploy-time providers, which set account settings only)",
    ("PCI4-EVENTBRIDGE-BUS-POLICY", "1.4.4"): "an event bus stores no cardholder data; who may put events is"
    " access control, not a store's network reachability",
    ("PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE", "1.4.4"): "a service principal's invoke condition is access control"
    " (7.2.1), not a store's network reachability",
    ("PCI4-ACCOUNT-GUARD-VALUES", "8.3.10.1"): "8.3.10.1 concerns a service provider's customer users; the IAM"
    " password policy governs this account's IAM users",
    ("PCI4-ACCOUNT-GUARD-VALUES", "8.6.3"): "the application and system accounts here are roles and IAM-authenticated"
    " database users, which no IAM password policy governs",
    ("PCI4-CODEBUILD-HARDENED", "6.5.1"): "6.5.1 is change control documented and traced; a build project's"
    " hardening is not it",
    ("PCI4-TEMPLATE-PARAMETERS-RESOLVED", "6.5.1"): "resolvable parameters make the templates examinable; they"
    " are not a change procedure",
    ("PCI4-TEMPLATE-NO-TRANSFORMS", "6.5.1"): "templates without macros are examinable as deployed; that is not"
    " a change procedure",
    ("PCI4-SECURITYHUB-PCI-V401", "11.5.2"): "Security Hub evaluates controls; the change-detection mechanism for"
    " configurations is AWS Config (PCI4-CONFIG-ALL-RESOURCES)",
    ("PCI4-S3-VERSIONING", "10.3.4"): "versioning keeps earlier versions but raises no alert (nor do the trail's"
    " signed digest files, validated on demand: 10.3.4 reads not evidenced)",
    # The backup rules of pack 1.6.0 (pci_rules/rules/data_stores.py) cite 12.10.1 since pack 1.8.0 for the plan's
    # "data backup processes"; 12.10.1.a examines the plan, a document, which no template shows.
    **{
        (rule, "12.10.1"): "backups are not an incident response plan"
        for rule in (
            "PCI4-DYNAMODB-PITR",
            "PCI4-ELASTICACHE-BACKUPS",
            "PCI4-NEPTUNE-BACKUP-RETENTION",
            "PCI4-REDSHIFT-BACKUPS",
            "PCI4-BACKUP-VAULT-NO-MANUAL-DELETION",
        )
    },
    # Pack 1.8.0 (issue 21, AWS's mapping adopted where the requirement text allows): the requirements' testing
    # procedures examine documents these settings are not (reviewed 2026-12-03).
    ("PCI4-CLOUDFRONT-SNI", "1.2.5"): "1.2.5 examines the documented, approved list of allowed services, protocols"
    " and ports; serving by SNI only narrows what is allowed but is not that list",
    ("PCI4-CLOUDFRONT-TLS12-POLICY", "1.2.5"): "1.2.5 examines the documented, approved list of allowed services,"
    " protocols and ports; a minimum TLS version narrows what is allowed but is not that list",
    ("PCI4-ECR-LIFECYCLE-POLICY", "3.2.1"): "3.2.1 examines the retention and disposal policy for account data;"
    " an image repository's lifecycle policy is a retention rule for images, which hold no account data",
    # Pack 1.9.0 (QSA reader r21b): storage-level encryption and the customer-managed key (item 2), traces and
    # one-minute metrics (item 3).
    **{
        (rule, "3.5.1.2"): "storage- or disk-level encryption is 3.5.1.2's subject, not its evidence:"
        + _NO_PAN_MECHANISM
        for rule in (
            "PCI4-APIGW-CACHE-ENCRYPTED",
            "PCI4-ATHENA-RESULTS-ENCRYPTED",
            "PCI4-DAX-ENCRYPTED",
            "PCI4-DOCDB-ENCRYPTED",
            "PCI4-DYNAMODB-KMS",
            "PCI4-EC2-EBS-DEFAULT-ENCRYPTION",
            "PCI4-EC2-VOLUME-ENCRYPTED",
            "PCI4-EFS-ENCRYPTED",
            "PCI4-KINESIS-ENCRYPTED",
            "PCI4-NEPTUNE-ENCRYPTED",
            "PCI4-RDS-STORAGE-ENCRYPTED",
            "PCI4-RDS-INHERITED-ENCRYPTION",
            "PCI4-REDSHIFT-KMS",
            "PCI4-SQS-ENCRYPTED",
            "PCI4-SQS-CUSTOMER-KEY",
            "PCI4-KINESIS-CUSTOMER-KEY",
            "PCI4-REDSHIFT-ENCRYPTED",
            "PCI4-ELASTICACHE-ENCRYPTED-AT-REST",
            "PCI4-OPENSEARCH-ENCRYPTED-AT-REST",
        )
    },
    **{
        (rule, "3.6.1"): _KEY_PROCEDURES
        for rule in (
            "PCI4-DYNAMODB-KMS",
            "PCI4-KINESIS-CUSTOMER-KEY",
            "PCI4-REDSHIFT-KMS",
            "PCI4-SQS-CUSTOMER-KEY",
            "PCI4-RDS-CUSTOMER-KEY",
            "PCI4-S3-CUSTOMER-KEY",
        )
    },
    ("PCI4-APIGW-XRAY", "10.7.2"): "10.7.2.b examines that a failure of a critical security control system"
    " generates an alert; a trace of sampled requests is neither the control nor the alert",
    ("PCI4-EC2-DETAILED-MONITORING", "10.7.2"): "10.7.2.b examines that a failure of a critical security control"
    " system generates an alert; one-minute metrics are an alarm's input, not the alert (PCI4-ALARM-ACTIONS is)",
    # QSA reader r20b, finding 9: 4.2.1 is transmission over open, public networks. These rules examine
    # internal transit (inside the VPC, or to an AWS API over a VPC endpoint); they are internal-transit notes
    # (the TLS work paper lists each such endpoint), never 4.2.1 evidence.
    ("PCI4-RDS-PROXY-TLS", "4.2.1"): INTERNAL_TRANSIT + ": application tier to the RDS proxy, inside the VPC",
    ("PCI4-RDS-TLS-FORCED", "4.2.1"): INTERNAL_TRANSIT + ": proxy or application tier to the database, inside the VPC",
    ("PCI4-S3-TLS-ONLY", "4.2.1"): INTERNAL_TRANSIT + ": requests to the landing zone's buckets (through the S3"
    " gateway endpoint from the tiers, AWS-internal from the services that deliver logs)",
    ("PCI4-SNS-TLS-ONLY", "4.2.1"): INTERNAL_TRANSIT + ": AWS services and functions publishing alarms, which"
    " carry no PAN",
    ("PCI4-ES-NODE-TO-NODE-ENCRYPTION", "4.2.1"): INTERNAL_TRANSIT + ": traffic between a search domain's own nodes",
}

# (Config rule, requirement) pairs the review found unrelated (reviewed like RELATED_NOT_EVIDENCE): the
# project's conformance pack no longer maps them, so AWS Config shows an assessor the reviewed pairs only
# (`PciDssV401Requirements` and the Description of each rule of compliance/conformance/pci-dss-v4.json
# are exactly `evidence.mapping_reasons.CONFIG_RULE_REASONS`; tests/test_evidence_catalog.py fails when
# the pack maps a pair listed here). A rule left with no requirement says "no requirement" in its
# Description and stays in the pack as defence in depth. A fork's pack that maps one of these pairs
# again is named under the requirement as "mapped here by the conformance pack but not cited".
# Changing the pack's template updates the deployed pack in place: `TemplateBody` of
# AWS::Config::ConformancePack is "Update requires: No interruption" (AWS CloudFormation Template
# Reference, AWS::Config::ConformancePack).
UNRELATED_CONFIG_RULES = {
    ("pci-dss-v4-kms-cmk-not-scheduled-for-deletion", "3.7.2"): "key deletion state is not key distribution",
    ("pci-dss-v4-ec2-ebs-encryption-by-default", "3.5.1"): "disk-level encryption is 3.5.1.2's subject",
    ("pci-dss-v4-encrypted-volumes", "3.5.1"): "disk-level encryption is 3.5.1.2's subject",
    ("pci-dss-v4-rds-snapshots-public-prohibited", "3.5.1"): "snapshot visibility does not render PAN unreadable",
    ("pci-dss-v4-rds-storage-encrypted", "3.5.1"): "RDS storage encryption is disk-level (3.5.1.2)",
    ("pci-dss-v4-s3-default-encryption-kms", "3.5.1"): "bucket encryption is storage-level: it does not render"
    " PAN unreadable (the access-log bucket that may hold PAN is a CDE store, data-stores paper)",
    ("pci-dss-v4-sns-encrypted-kms", "3.5.1"): "SNS topics carry no stored PAN",
    ("pci-dss-v4-sns-encrypted-kms", "10.3.2"): "SNS topics are not audit logs",
    ("pci-dss-v4-multi-region-cloudtrail-enabled", "10.2.2"): "multi-region is coverage, not record contents",
    ("pci-dss-v4-secretsmanager-rotation-enabled-check", "8.3.9"): "secret rotation is 8.6.3, not 8.3.9",
    # Reviewed with every other pair of the pack (evidence/mapping_reasons.py CONFIG_RULE_REASONS), 2026-12-02:
    ("pci-dss-v4-ebs-snapshot-public-restorable-check", "1.3.1"): "a public snapshot is a copy of stored data"
    " anyone can restore (1.4.4), not inbound network traffic to the CDE",
    ("pci-dss-v4-ssm-document-not-public", "1.3.1"): "a shared Systems Manager document is configuration"
    " content, not inbound network traffic to the CDE",
    ("pci-dss-v4-netfw-logging-enabled", "1.3.2"): "the firewall's logs record outbound traffic; they do not"
    " restrict it (cited under 10.2.1)",
    ("pci-dss-v4-securityhub-enabled", "11.5.1"): "Security Hub evaluates controls and aggregates findings; the"
    " intrusion-detection technique is GuardDuty (pci-dss-v4-guardduty-enabled-centralized)",
    # QSA reader r20b, finding 9: the synth rule of the same property (PCI4-S3-TLS-ONLY) is an internal-transit
    # note under 4.2.1, so the Config rule watching it after deploy is one too, not 4.2.1 evidence.
    ("pci-dss-v4-s3-bucket-ssl-requests-only", "4.2.1"): INTERNAL_TRANSIT + ": requests to the landing zone's"
    " buckets, as for PCI4-S3-TLS-ONLY",
}
