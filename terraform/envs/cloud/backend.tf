# Remote state (terraform/README.md, "Remote state"): OpenTofu's s3 backend on any S3-compatible
# store, one key per environment, locked by a lock object next to the state, and encrypted on this
# machine before it is written (state and plan files alike).
#
#   tofu init -backend-config=staging.s3.tfbackend    # bucket, key, region, endpoint
#
# Secrets come from the environment, never from a file:
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the state bucket's credentials
#   TF_VAR_state_passphrase                    the environment's state passphrase
terraform {
  backend "s3" {
    # Native lock: <key>.tflock, written with a conditional PUT (If-None-Match). No DynamoDB.
    use_lockfile = true
  }

  # Never rename the key provider or the method: the encrypted state records their names. To
  # change the passphrase, see "Remote state" in terraform/README.md (a fallback block).
  encryption {
    key_provider "pbkdf2" "state" {
      passphrase = var.state_passphrase
    }

    method "aes_gcm" "state" {
      keys = key_provider.pbkdf2.state
    }

    # enforced: nothing, not even TF_ENCRYPTION, can make OpenTofu write them unencrypted.
    state {
      method   = method.aes_gcm.state
      enforced = true
    }

    plan {
      method   = method.aes_gcm.state
      enforced = true
    }
  }
}

variable "state_passphrase" {
  description = "Passphrase that encrypts this environment's state and plan files (16 characters or more), from TF_VAR_state_passphrase. One per environment; without it the state cannot be read."
  type        = string
  sensitive   = true
}
