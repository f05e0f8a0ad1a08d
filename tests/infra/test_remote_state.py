"""Remote state for real: OpenTofu's s3 backend against a LocalStack that this module starts on a
free loopback port, with the configuration that ships for the cloud environments.

What ships: `backend.tf` in the cloud env root(s) (the s3 backend with the native lock file, the
client-side encryption, the `state_passphrase` variable) and one `<env>.s3.tfbackend` per
environment (bucket, key, region, endpoint). The real roots cannot plan without a cloud, so each
environment gets a scratch root of `terraform_data` resources only (no provider) holding a copy of
its `backend.tf`, initialised with its shipped `.tfbackend` file plus a small override that points
bucket and endpoint at the test's LocalStack. Everything else — key, lock file, skip flags,
encryption — is what a user gets.

Checked: staging and prod keep their states apart; a second apply is refused while the first holds
the lock (and another environment is not blocked by it); the object in the bucket is OpenTofu's
encrypted envelope without the secret in it, and so is a plan file; the encryption cannot be turned
off from the environment; a wrong or missing passphrase fails with a clear error and writes
nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from stack.paths import ROOT
from tests.infra.tofu_support import TERRAFORM_DIR, require_tofu, run, tofu_env
from tests.support import wait_until

pytestmark = [pytest.mark.infra, pytest.mark.timeout(300)]

LOCALSTACK_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
ENVIRONMENTS = ("staging", "prod")
BUCKET = "cryptostream-tfstate-test"
# The migration test's own buckets: the old and the new home of one state.
MIGRATION_BUCKETS = ("cryptostream-tfstate-old", "cryptostream-tfstate-new")
# Any non-empty pair: LocalStack accepts every key; the real ones only ever come from the
# environment, like these.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
LOCK_ERROR = "Error acquiring the state lock"
WRONG_KEY_ERROR = "decryption failed for all provided methods"

# The scratch root: what a cloud env's state holds, in miniature. `credential` stands in for a
# generated secret (the job's S3 secret key); `hold` blocks an apply while it holds the lock,
# until the file it names appears.
SCRATCH_MAIN = """
variable "environment" {
  type = string
}

variable "credential" {
  type      = string
  sensitive = true
}

variable "hold_until_file" {
  type    = string
  default = null
}

resource "terraform_data" "environment" {
  input = var.environment
}

resource "terraform_data" "credential" {
  input = var.credential
}

resource "terraform_data" "hold" {
  count            = var.hold_until_file == null ? 0 : 1
  triggers_replace = timestamp()

  provisioner "local-exec" {
    command = "while [ ! -e '${var.hold_until_file}' ]; do sleep 0.1; done"
  }
}

output "environment" {
  value = terraform_data.environment.output
}

output "credential" {
  value     = terraform_data.credential.output
  sensitive = true
}
"""


def shipped_environments() -> dict[str, tuple[Path, Path]]:
    """environment => (its backend.tf, its .s3.tfbackend file), whichever layout the cloud envs
    use: one root with a .tfbackend per environment, or one root per environment."""
    found = {}
    for tfbackend in sorted(TERRAFORM_DIR.glob("envs/*/*.s3.tfbackend")):
        found[tfbackend.name.removesuffix(".s3.tfbackend")] = (tfbackend.parent / "backend.tf",
                                                               tfbackend)
    return found


def hcl_string(text: str, name: str) -> str:
    """A top-level `name = "value"` of a .tfbackend file (they hold nothing more complex)."""
    match = re.search(rf'^\s*{name}\s*=\s*"([^"]*)"', text, re.M)
    assert match, f"no {name} = \"...\" line"
    return match.group(1)


# --- the shipped files, read statically -----------------------------------------------------


def test_every_cloud_environment_ships_its_own_backend_file():
    shipped = shipped_environments()
    assert set(ENVIRONMENTS) <= set(shipped), \
        f"expected {ENVIRONMENTS} .s3.tfbackend files under terraform/envs, found {sorted(shipped)}"
    keys = {}
    for env, (backend_tf, tfbackend) in shipped.items():
        text = tfbackend.read_text()
        keys[env] = hcl_string(text, "key")
        assert env in keys[env], f"{tfbackend.name}: the key {keys[env]} does not name {env}"
        # Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never from a file.
        for secret_setting in ("access_key", "secret_key", "token"):
            assert not re.search(rf"^\s*{secret_setting}\s*=", text, re.M), \
                f"{tfbackend.name} sets {secret_setting}"
        config = backend_tf.read_text()
        assert re.search(r'backend\s+"s3"', config), f"{backend_tf} has no s3 backend"
        assert not re.search(r"^\s*passphrase\s*=", text, re.M), f"{tfbackend.name}: a passphrase"
        assert not re.search(r'passphrase\s*=\s*"', config), f"{backend_tf}: a passphrase"
    assert len(set(keys.values())) == len(keys), f"environments share a state key: {keys}"


# --- LocalStack and the scratch roots -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def localstack_ready(url: str, process: subprocess.Popen, log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"LocalStack exited {process.returncode}:\n{log.read_text()[-4000:]}")
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:
            health = json.load(response)
    except OSError:
        return False
    return health.get("services", {}).get("s3") in ("available", "running")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A LocalStack (S3) of this module's own on a free loopback port, its data in a temp dir."""
    if not LOCALSTACK_PYTHON.exists():
        pytest.skip(f"{LOCALSTACK_PYTHON} is missing: run `make setup`")
    home = tmp_path_factory.mktemp("localstack")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(GATEWAY_LISTEN=f"127.0.0.1:{port}", SERVICES="s3,sts,iam", DNS_ADDRESS="0",
               DISABLE_EVENTS="1", SKIP_SSL_CERT_DOWNLOAD="1",
               LOCALSTACK_VOLUME_DIR=str(home / "volume"))
    log = home / "localstack.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"],
                                   cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until(lambda: localstack_ready(url, process, log), timeout=90,
                   message=f"LocalStack S3 at {url}")
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    for bucket in (BUCKET, *MIGRATION_BUCKETS):
        client.create_bucket(Bucket=bucket)
    return client


@dataclass
class Environment:
    """One cloud environment's state, driven through a scratch root with the shipped backend."""

    name: str
    root: Path
    data_dir: Path
    key: str
    passphrase: str
    credential: str

    def env(self, **extra: str) -> dict[str, str]:
        # None of the caller's AWS_* settings (a profile, an endpoint, a session token).
        env = {key: value for key, value in tofu_env().items() if not key.startswith("AWS_")}
        return {**env, "TF_DATA_DIR": str(self.data_dir), "TF_VAR_environment": self.name,
                "TF_VAR_state_passphrase": self.passphrase, "TF_VAR_credential": self.credential,
                **CREDENTIALS, **extra}

    def command(self, subcommand: str, *args: str) -> list[str]:
        """subcommand: "apply", "state list", ...; TF_INPUT=0 (tofu_env): no prompts."""
        return [str(require_tofu()), *subcommand.split(), "-no-color", *args]

    def tofu(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return run(self.command(*args), cwd=self.root, env=self.env(**extra), timeout=120)

    def tofu_failing(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        result = subprocess.run(self.command(*args), cwd=self.root, env=self.env(**extra),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode != 0, f"tofu {' '.join(args)} succeeded:\n{result.stdout}"
        return result


@pytest.fixture(scope="module")
def environments(s3, s3_endpoint, tmp_path_factory) -> dict[str, Environment]:
    """staging and prod initialised against the LocalStack bucket and applied once each."""
    require_tofu()
    shipped = shipped_environments()
    missing = [env for env in ENVIRONMENTS if env not in shipped]
    assert not missing, f"no .s3.tfbackend for {missing} under terraform/envs"
    made = {}
    for name in ENVIRONMENTS:
        backend_tf, tfbackend = shipped[name]
        root = tmp_path_factory.mktemp(f"root-{name}")
        shutil.copy2(backend_tf, root / "backend.tf")
        (root / "main.tf").write_text(SCRATCH_MAIN)
        override = write_override(root, s3_endpoint, BUCKET)
        environment = Environment(
            name=name, root=root, data_dir=root / ".tofu-data",
            key=hcl_string(tfbackend.read_text(), "key"),
            passphrase=f"{name}-state-{secrets.token_hex(12)}",
            credential=f"{name}-secret-{secrets.token_hex(12)}")
        environment.tofu("init", f"-backend-config={tfbackend}", f"-backend-config={override}")
        environment.tofu("apply", "-auto-approve")
        made[name] = environment
    return made


def bucket_keys(s3, bucket: str = BUCKET) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def write_override(root: Path, endpoint: str, bucket: str, key: str | None = None) -> Path:
    """A second -backend-config file: only where the state lives changes for the test."""
    override = root / f"{bucket}.s3.tfbackend"
    override.write_text(f'bucket    = "{bucket}"\n'
                        f'endpoints = {{ s3 = "{endpoint}" }}\n'
                        + (f'key       = "{key}"\n' if key else ""))
    return override


def assert_encrypted(stored: bytes, secret: str) -> None:
    assert secret.encode() not in stored
    envelope = json.loads(stored)
    # OpenTofu's envelope: the ciphertext and the key provider's metadata (its salt), none of a
    # plain state's content.
    assert {"encrypted_data", "meta"} <= set(envelope), sorted(envelope)
    assert not {"resources", "outputs", "terraform_version"} & set(envelope)
    assert any(name.startswith("key_provider.pbkdf2.") for name in envelope["meta"])


def state_object(s3, environment: Environment) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=environment.key)["Body"].read()


# --- (a) one state per environment ----------------------------------------------------------


def test_environments_keep_their_states_apart(environments, s3):
    staging, prod = environments["staging"], environments["prod"]
    assert staging.key != prod.key
    assert bucket_keys(s3) == {staging.key, prod.key}  # no lock file left behind either
    for environment in (staging, prod):
        outputs = json.loads(environment.tofu("output", "-json").stdout)
        assert outputs["environment"]["value"] == environment.name
        assert outputs["credential"]["value"] == environment.credential
        resources = environment.tofu("state list").stdout.split()
        assert resources == ["terraform_data.credential", "terraform_data.environment"]
        plan = environment.tofu("plan", "-detailed-exitcode")  # 0: nothing to change
        assert "No changes." in plan.stdout


# --- (b) the lock ---------------------------------------------------------------------------


def test_a_second_apply_is_refused_while_the_first_holds_the_lock(environments, s3, tmp_path):
    staging, prod = environments["staging"], environments["prod"]
    lock_key = f"{staging.key}.tflock"
    release = tmp_path / "release"
    first = subprocess.Popen(
        staging.command("apply", "-auto-approve", f"-var=hold_until_file={release}"),
        cwd=staging.root, env=staging.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        def locked() -> bool:
            if first.poll() is not None:
                raise AssertionError(f"the first apply ended early:\n{first.stdout.read()}")
            return lock_key in bucket_keys(s3)

        wait_until(locked, timeout=60, message=f"the lock object {lock_key}")
        lock = json.loads(s3.get_object(Bucket=BUCKET, Key=lock_key)["Body"].read())
        assert lock["Operation"] == "OperationTypeApply"

        second = staging.tofu_failing("apply", "-auto-approve")
        assert LOCK_ERROR in second.stderr, second.stderr
        assert lock["ID"] in second.stderr  # it names the holder

        # A lock per state: prod is not blocked by staging's apply.
        assert "No changes." in prod.tofu("plan").stdout
    finally:
        release.touch()
        output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output
    assert "Apply complete! Resources: 1 added" in output
    assert lock_key not in bucket_keys(s3)  # released


# --- (c) encryption -------------------------------------------------------------------------


def test_the_state_in_the_bucket_is_encrypted(environments, s3):
    for environment in environments.values():
        assert_encrypted(state_object(s3, environment), environment.credential)
        # ... and the secret is in that state: OpenTofu decrypts it with the passphrase.
        assert environment.tofu("output", "-raw", "credential").stdout == environment.credential


def test_a_plan_file_is_encrypted(environments, tmp_path):
    staging = environments["staging"]
    plan_file = tmp_path / "staging.tfplan"
    changed = "changed-" + secrets.token_hex(12)
    staging.tofu("plan", f"-out={plan_file}", TF_VAR_credential=changed)
    written = plan_file.read_bytes()
    assert not written.startswith(b"PK")  # a plain plan file is a zip archive
    assert changed.encode() not in written
    assert "encrypted_data" in json.loads(written)


def test_encryption_cannot_be_switched_off_from_the_environment(environments, s3):
    """`enforced = true`: an unencrypted method handed in through TF_ENCRYPTION is refused."""
    staging = environments["staging"]
    before = state_object(s3, staging)
    unencrypted = ('method "unencrypted" "off" {}\n'
                   "state {\n  method = method.unencrypted.off\n}\n")
    result = staging.tofu_failing("apply", "-auto-approve", TF_ENCRYPTION=unencrypted)
    assert "Unencrypted method is forbidden" in result.stderr, result.stderr
    assert state_object(s3, staging) == before


# --- (d) the wrong key ----------------------------------------------------------------------


def test_a_wrong_passphrase_fails_clearly_and_writes_nothing(environments, s3):
    staging, prod = environments["staging"], environments["prod"]
    before = state_object(s3, prod)
    # staging's passphrase does not open prod's state
    result = prod.tofu_failing("plan", TF_VAR_state_passphrase=staging.passphrase)
    assert WRONG_KEY_ERROR in result.stderr, result.stderr
    assert "message authentication failed" in result.stderr, result.stderr
    result = prod.tofu_failing("apply", "-auto-approve",
                               TF_VAR_state_passphrase=staging.passphrase)
    assert WRONG_KEY_ERROR in result.stderr, result.stderr
    assert state_object(s3, prod) == before
    assert bucket_keys(s3) == {staging.key, prod.key}  # no lock left behind


def test_a_missing_or_short_passphrase_is_named(environments):
    prod = environments["prod"]
    environment = {k: v for k, v in prod.env().items() if k != "TF_VAR_state_passphrase"}
    result = subprocess.run(prod.command("plan"), cwd=prod.root, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "state_passphrase" in result.stderr, result.stderr
    result = prod.tofu_failing("plan", TF_VAR_state_passphrase="too-short")
    assert "passphrase is too short" in result.stderr, result.stderr


# --- migration (terraform/README.md, "Remote state") ----------------------------------------


def test_local_state_moves_in_encrypted_and_on_to_another_bucket(s3, s3_endpoint, tmp_path):
    """The README's two moves: a plain local state pushed into the encrypted remote state
    (`tofu state push`), then that remote state moved to another bucket (`init -migrate-state`);
    the resources stay, nothing to change after either."""
    require_tofu()
    backend_tf, tfbackend = shipped_environments()["staging"]
    key = "cryptostream/migration/terraform.tfstate"
    old_bucket, new_bucket = MIGRATION_BUCKETS
    environment = Environment(
        name="staging", root=tmp_path, data_dir=tmp_path / ".tofu-data", key=key,
        passphrase=f"migration-{secrets.token_hex(12)}",
        credential=f"migration-secret-{secrets.token_hex(12)}")
    (tmp_path / "main.tf").write_text(SCRATCH_MAIN)
    environment.tofu("init")
    environment.tofu("apply", "-auto-approve")  # local state, as before the remote backend
    local_state = tmp_path / "terraform.tfstate"
    assert environment.credential in local_state.read_text()  # in clear

    shutil.copy2(backend_tf, tmp_path / "backend.tf")
    local_state.rename(tmp_path / "local.tfstate")
    old = write_override(tmp_path, s3_endpoint, old_bucket, key)
    environment.tofu("init", f"-backend-config={tfbackend}", f"-backend-config={old}")
    environment.tofu("state push", "local.tfstate")
    environment.tofu("plan", "-detailed-exitcode")
    assert_encrypted(s3.get_object(Bucket=old_bucket, Key=key)["Body"].read(),
                     environment.credential)

    new = write_override(tmp_path, s3_endpoint, new_bucket, key)
    environment.tofu("init", "-migrate-state", "-force-copy", f"-backend-config={tfbackend}",
                     f"-backend-config={new}")
    assert bucket_keys(s3, new_bucket) == {key}
    assert_encrypted(s3.get_object(Bucket=new_bucket, Key=key)["Body"].read(),
                     environment.credential)
    environment.tofu("plan", "-detailed-exitcode")
    assert environment.tofu("output", "-raw", "credential").stdout == environment.credential
