"""Kafka client security, defined once for every client: the producer and the admin/consumer
chores (librdkafka, through confluent-kafka) and the streaming job (the Java client inside
Spark's Kafka source, whose options take a `kafka.` prefix).

Environment variables:
  KAFKA_SECURITY_PROTOCOL  PLAINTEXT (default) or SASL_SSL
  KAFKA_SASL_MECHANISM     SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN; SASL_SSL only
  KAFKA_SASL_USERNAME      required with SASL_SSL
  KAFKA_SASL_PASSWORD      required with SASL_SSL; never logged
  KAFKA_SSL_CA_FILE        required with SASL_SSL: a PEM bundle of the CA(s) that signed the
                           brokers' certificates (the same file for both client libraries)

With PLAINTEXT the SASL and CA variables are ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROTOCOLS = ("PLAINTEXT", "SASL_SSL")
# The Java client's JAAS login module per SASL mechanism.
LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}
DEFAULT_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Security:
    protocol: str
    mechanism: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""

    @property
    def sasl(self) -> bool:
        return self.protocol == "SASL_SSL"


def from_env(env: Mapping[str, str] = os.environ) -> Security:
    """The validated settings; ValueError names the variable that is wrong or missing."""
    protocol = (env.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").strip().upper()
    if protocol not in PROTOCOLS:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol!r} is not supported: use one of "
                         f"{', '.join(PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return Security(protocol)
    mechanism = (env.get("KAFKA_SASL_MECHANISM") or DEFAULT_MECHANISM).strip().upper()
    if mechanism not in LOGIN_MODULES:
        raise ValueError(
            f"KAFKA_SASL_MECHANISM={mechanism!r} is not supported: use one of "
            f"{', '.join(LOGIN_MODULES)}"
        )
    for name in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_FILE"):
        if not env.get(name):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs {name}, which is not set")
    ca_file = env["KAFKA_SSL_CA_FILE"]
    if not Path(ca_file).is_file():
        raise ValueError(f"KAFKA_SSL_CA_FILE={ca_file!r} is not a file (expected a PEM CA bundle)")
    return Security(protocol, mechanism, env["KAFKA_SASL_USERNAME"], env["KAFKA_SASL_PASSWORD"],
                    ca_file)


def librdkafka_config(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Settings for a confluent-kafka Producer, Consumer or AdminClient."""
    security = from_env(env)
    if not security.sasl:
        return {"security.protocol": security.protocol}
    return {
        "security.protocol": security.protocol,
        "sasl.mechanisms": security.mechanism,
        "sasl.username": security.username,
        "sasl.password": security.password,
        "ssl.ca.location": security.ca_file,
    }


def jaas_quote(value: str) -> str:
    """A double-quoted JAAS option value. Kafka parses sasl.jaas.config with Java's
    StreamTokenizer, which reads backslash escapes inside quotes and ends a quoted value at a
    line break, so backslash, quote and line breaks are escaped."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\r", "\\r"))
    return f'"{escaped}"'


def java_client_config(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Settings for the Java Kafka client (prefix each key with `kafka.` for Spark's source)."""
    security = from_env(env)
    if not security.sasl:
        return {"security.protocol": security.protocol}
    jaas = (f"{LOGIN_MODULES[security.mechanism]} required "
            f"username={jaas_quote(security.username)} "
            f"password={jaas_quote(security.password)};")
    return {
        "security.protocol": security.protocol,
        "sasl.mechanism": security.mechanism,
        "sasl.jaas.config": jaas,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": security.ca_file,
    }
