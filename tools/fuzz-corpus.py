#!/usr/bin/python3
"""Writes the fuzz seed corpus under Fuzz/Corpus/<target>/ (committed; rerun after a proto change).

FuzzFrame: length-prefixed streams of valid frames (call, reply, cancel, go-away), several frames
in one stream, and edge cases (empty frame, truncated stream, oversize prefix, garbage body).
FuzzRequestDecode and FuzzRequestValidate: one byte naming the request type (its index in
Fuzz/Sources/FuzzSupport/RequestTypes.swift) followed by a valid encoding, an empty message, and
for the main requests a few that must be refused (bad ids, over-long fields, broken JSON).
Encodings come from `protoc --encode` over the text-format messages below.
"""
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO = os.path.join(ROOT, "proto")
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def request_types():
    """The full proto names, in the order of FuzzRequests.types."""
    path = os.path.join(ROOT, "Fuzz", "Sources", "FuzzSupport", "RequestTypes.swift")
    names = re.findall(r"^\s*(\w+)V1\.(\w+)\.self,", open(path).read(), re.M)
    return ["oms.%s.v1.%s" % (package.lower(), message) for package, message in names]


def proto_file(full_name):
    package = full_name.split(".")[1]
    return "oms/rpc/v1/frame.proto" if package == "rpc" else "oms/%s/v1/%s.proto" % (package, package)


def encode(full_name, text):
    """The binary encoding of a text-format message."""
    return subprocess.run(
        ["protoc", "-I", PROTO, "--encode=" + full_name, proto_file(full_name)],
        input=text.encode(), stdout=subprocess.PIPE, check=True).stdout


CUSTOMER = 'customer { customer_id: "c-1" name: "Ada Lovelace" email: "ada@example.com" }'
ADDRESS = ('shipping_address { name: "Ada" line1: "1 Main St" city: "London" postal_code: "N1 9GU" '
           'country: "GB" phone: "+44 20 7946 0000" }')
CARD = 'payment_method { card { number: "4242424242424242" exp_month: 12 exp_year: 2099 cvc: "123" holder_name: "Ada" } }'
MONEY = 'amount { amount_minor: 1999 currency: "EUR" }'

# Text-format requests: valid ones first, then ones validation must refuse with 3.
REQUESTS = {
    "oms.health.v1.HealthCheckRequest": ['service: "oms.inventory.v1.Inventory"'],
    "oms.inventory.v1.UpsertProductRequest": [
        'product { sku: "SKU-1" name: "Mug" price { amount_minor: 1200 currency: "EUR" } '
        'attributes_json: "{\\"colour\\":\\"red\\",\\"size\\":\\"M\\"}" active: true }',
        'product { sku: "bad sku" name: "" price { amount_minor: -1 currency: "XXX" } attributes_json: "{[" }'],
    "oms.inventory.v1.GetProductRequest": ['sku: "SKU-1"', 'sku: ""'],
    "oms.inventory.v1.ListProductsRequest": ['page_size: 50 page_token: "abc" include_inactive: true',
                                             'page_size: 4294967295'],
    "oms.inventory.v1.AdjustStockRequest": ['sku: "SKU-1" kind: ADJUSTMENT_KIND_RECEIVE quantity: 10 reason: "po" reference: "po-7"',
                                            'sku: "SKU-1" kind: ADJUSTMENT_KIND_SET quantity: -9223372036854775808',
                                            # Found by FuzzRequestValidate: abs(Int64.min) trapped in the CORRECT check.
                                            'sku: "SKU-1" kind: ADJUSTMENT_KIND_CORRECT quantity: -9223372036854775808 reason: "r"'],
    "oms.inventory.v1.GetStockRequest": ['skus: "SKU-1" skus: "SKU-2" consistent: true'],
    "oms.inventory.v1.ReserveRequest": [
        'reservation_id: "r-1" lines { sku: "SKU-1" quantity: 2 } lines { sku: "SKU-2" quantity: 1 } ttl_ms: 60000 reference: "chk-1"',
        'reservation_id: "r-1" lines { sku: "SKU-1" quantity: 0 } lines { sku: "SKU-1" quantity: 9223372036854775807 }'],
    "oms.inventory.v1.CommitReservationRequest": ['reservation_id: "r-1" order_id: "1001"'],
    "oms.inventory.v1.ReleaseReservationRequest": ['reservation_id: "r-1" reason: "payment declined"'],
    "oms.inventory.v1.ExtendReservationRequest": ['reservation_id: "r-1" ttl_ms: 30000', 'reservation_id: "r-1" ttl_ms: 4294967295'],
    "oms.inventory.v1.ReconcileRequest": ['skus: "SKU-1" dry_run: true'],
    "oms.orders.v1.CreateOrderRequest": [
        'checkout_id: "chk-1" %s lines { sku: "SKU-1" product_name: "Mug" quantity: 2 '
        'unit_price { amount_minor: 1200 currency: "EUR" } attributes_json: "{}" } %s '
        'metadata_json: "{\\"gift\\":true,\\"delivery_preference\\":\\"standard\\"}" reservation_id: "r-1"' % (CUSTOMER, ADDRESS),
        'checkout_id: "chk-1" %s lines { sku: "SKU-1" product_name: "Mug" quantity: 10000 '
        'unit_price { amount_minor: 10000000000 currency: "EUR" } } lines { sku: "SKU-2" product_name: "Pot" quantity: 10000 '
        'unit_price { amount_minor: 10000000000 currency: "EUR" } } %s metadata_json: "[[[[[[[[[[1]]]]]]]]]]"' % (CUSTOMER, ADDRESS)],
    "oms.orders.v1.ConfirmOrderRequest": ['order_id: "1001" payment_id: "p-1" paid { amount_minor: 2400 currency: "EUR" }'],
    "oms.orders.v1.CancelOrderRequest": ['order_id: "1001" reason: "customer"', 'checkout_id: "chk-1" reason: "compensation"'],
    "oms.orders.v1.GetOrderRequest": ['order_id: "1001" include_events: true consistency_token: "t"'],
    "oms.orders.v1.ListOrdersRequest": ['customer_id: "c-1" page_size: 20 page_token: "x"'],
    "oms.orders.v1.SearchOrdersRequest": [
        'query: "mug" statuses: ORDER_STATUS_CONFIRMED created_from_us: 1 created_to_us: 2 page_size: 10 '
        'delivery_preference: "express" gift_only: true item_colour: "red" item_size: "M"'],
    "oms.orders.v1.RequestReturnRequest": ['order_id: "1001" return_id: "ret-1" lines { line_id: "1" quantity: 1 } reason: "broken"'],
    "oms.orders.v1.RecordShipmentRequest": [
        'order_id: "1001" shipment_id: "s-1" kind: SHIPMENT_EVENT_KIND_SHIPPED lines { line_id: "1" quantity: 2 } at_us: 1700000000000000'],
    "oms.payments.v1.AuthorizeRequest": [
        'idempotency_key: "k-1" order_id: "1001" %s %s metadata_json: "{\\"checkout_id\\":\\"chk-1\\"}"' % (MONEY, CARD),
        'idempotency_key: "k-1" order_id: "1001" amount { amount_minor: -5 currency: "eur" } '
        'payment_method { card { number: "4242424242424241" exp_month: 13 exp_year: 1 cvc: "12a" } }'],
    "oms.payments.v1.CaptureRequest": ['payment_id: "42" %s idempotency_key: "k-2"' % MONEY],
    "oms.payments.v1.VoidAuthorizationRequest": ['payment_id: "42" reason: "cancelled" idempotency_key: "k-3"'],
    "oms.payments.v1.RefundRequest": ['payment_id: "42" %s idempotency_key: "k-4" reason: "return"' % MONEY],
    "oms.payments.v1.GetPaymentRequest": ['payment_id: "42"', 'order_id: "1001"', 'idempotency_key: "k-1"'],
    "oms.payments.v1.CancelAuthorizationRequest": ['idempotency_key: "k-1" reason: "timeout"'],
    "oms.shipments.v1.CreateShipmentRequest": [
        'idempotency_key: "k-5" order_id: "1001" warehouse: "WH-1" lines { line_id: "1" sku: "SKU-1" quantity: 2 }'],
    "oms.shipments.v1.MarkLabelCreatedRequest": ['shipment_id: "7" carrier: "DHL" tracking_number: "JD0123"'],
    "oms.shipments.v1.MarkShippedRequest": ['shipment_id: "7"'],
    "oms.shipments.v1.MarkDeliveredRequest": ['shipment_id: "7"'],
    "oms.shipments.v1.CancelShipmentRequest": ['shipment_id: "7" reason: "lost"'],
    "oms.shipments.v1.GetShipmentRequest": ['shipment_id: "7"'],
    "oms.shipments.v1.ListShipmentsRequest": ['order_id: "1001" page_size: 10 page_token: "p"'],
    "oms.checkout.v1.PlaceOrderRequest": [
        'idempotency_key: "k-6" %s lines { sku: "SKU-1" quantity: 2 attributes_json: "{\\"colour\\":\\"red\\"}" } %s %s '
        'metadata_json: "{\\"gift_message\\":\\"happy birthday\\"}"' % (CUSTOMER, CARD, ADDRESS),
        'idempotency_key: "k-6" customer { customer_id: "c-1" email: "not-an-email" } '
        'lines { sku: "SKU-1" quantity: -1 } shipping_address { country: "gb" } metadata_json: "{\\"a\\":"'],
    "oms.checkout.v1.GetCheckoutRequest": ['idempotency_key: "k-6"', 'checkout_id: "12"', 'checkout_id: "-1"'],
}

FRAMES = [
    'call_id: 1 call { method: "/oms.inventory.v1.Inventory/Reserve" timeout_ms: 5000 '
    'metadata { key: "authorization" value: "Bearer t" } metadata { key: "request-id" value: "r-1" } payload: "\\n\\003r-1" }',
    'call_id: 2 reply { code: 0 payload: "\\n\\001x" metadata { key: "retry-after-ms" value: "100" } }',
    'call_id: 3 reply { code: 3 message: "sku: is required" }',
    'call_id: 4 cancel { }',
    'call_id: 0 go_away { reason: "draining" }',
    'call_id: 18446744073709551615 call { method: "" }',
]


def prefixed(body):
    return struct.pack(">I", len(body)) + body


def write(target, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    names = request_types()
    missing = sorted(set(names) ^ set(REQUESTS))
    if missing:
        sys.exit("fuzz-corpus: RequestTypes.swift and REQUESTS differ: %s" % ", ".join(missing))
    for index, name in enumerate(names):
        for target in ("FuzzRequestDecode", "FuzzRequestValidate"):
            write(target, bytes([index]))
            for text in REQUESTS[name]:
                write(target, bytes([index]) + encode(name, text))
    frames = [encode("oms.rpc.v1.Frame", text) for text in FRAMES]
    # The control byte: low nibble + 1 is the read size, 0x10 selects a 64-byte maximum.
    for control in (0x00, 0x03, 0x0F):
        for frame in frames:
            write("FuzzFrame", bytes([control]) + prefixed(frame))
        write("FuzzFrame", bytes([control]) + b"".join(prefixed(f) for f in frames))
    write("FuzzFrame", bytes([0x10]) + prefixed(frames[0]))           # over the 64-byte maximum
    write("FuzzFrame", bytes([0x00]) + prefixed(b""))                 # empty frame
    write("FuzzFrame", bytes([0x00]) + prefixed(frames[0])[:-3])      # stream ends inside a frame
    write("FuzzFrame", bytes([0x00]) + b"\xff\xff\xff\xff")           # oversize prefix
    write("FuzzFrame", bytes([0x00]) + prefixed(b"\x12\x05\x0a\xff\xff\xff\x0f"))  # truncated nested field
    write("FuzzFrame", bytes([0x00]) + prefixed(b"\x0b\x0c"))         # group wire types


if __name__ == "__main__":
    main()
