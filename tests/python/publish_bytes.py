"""Publishes messages whose routing key and message-id property are
arbitrary bytes, which AMQP allows but Rust's AMQP client cannot send.

usage: publish_bytes.py HOST:PORT USER PASSWORD VHOST FILE
FILE holds one JSON object per line: {"exchange": ..., "routing_key_hex": ...,
"message_id_hex": ..., "body_hex": ...}. Every message is persistent and
confirmed by the broker before the script exits 0.
"""

import json
import sys

import amqp


def main(host, user, password, vhost, path):
    connection = amqp.Connection(
        host=host, userid=user, password=password, virtual_host=vhost, confirm_publish=True
    )
    connection.connect()
    channel = connection.channel()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            body = amqp.Message(
                bytes.fromhex(message["body_hex"]),
                content_type="application/json",
                delivery_mode=2,
                message_id=bytes.fromhex(message["message_id_hex"]),
            )
            # With confirm_publish, basic_publish returns once the broker confirmed.
            channel.basic_publish(
                body,
                exchange=message["exchange"],
                routing_key=bytes.fromhex(message["routing_key_hex"]),
            )
    channel.close()
    connection.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
