"""Publishes one message whose routing key and message-id property are
arbitrary bytes, which AMQP allows but Rust's AMQP client cannot send.

usage: publish_bytes.py HOST:PORT USER PASSWORD VHOST EXCHANGE ROUTING_KEY_HEX MESSAGE_ID_HEX BODY
"""

import sys

import amqp


def main(host, user, password, vhost, exchange, routing_key_hex, message_id_hex, body):
    connection = amqp.Connection(
        host=host, userid=user, password=password, virtual_host=vhost, confirm_publish=True
    )
    connection.connect()
    channel = connection.channel()
    message = amqp.Message(
        body.encode("utf-8"),
        content_type="application/json",
        message_id=bytes.fromhex(message_id_hex),
    )
    # With confirm_publish, basic_publish returns once the broker confirmed.
    channel.basic_publish(message, exchange=exchange, routing_key=bytes.fromhex(routing_key_hex))
    channel.close()
    connection.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
