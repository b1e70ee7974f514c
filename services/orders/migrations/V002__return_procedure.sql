-- Returns: validates quantities, computes the pro-rata refund, records the return, its lines, the
-- new order status and version, the audit event and the outbox messages (refund + restock).
-- It runs inside the caller's transaction and writes nothing durable on its own: every failure is a
-- SIGNAL whose message starts with the RPC status name, and the caller rolls back.
--   p_lines: JSON array of {"line_no": n, "quantity": q}, q > 0, each line_no once.
--   Repeating a request_key for the same order does nothing (the caller reads the first return).
DROP PROCEDURE IF EXISTS oms_request_return;
DELIMITER //
CREATE PROCEDURE oms_request_return(
    IN p_order_id BIGINT,
    IN p_request_key VARCHAR(128) CHARACTER SET utf8mb4,
    IN p_lines LONGTEXT CHARACTER SET utf8mb4,
    IN p_reason VARCHAR(500) CHARACTER SET utf8mb4,
    IN p_now DATETIME(6))
proc: BEGIN
    DECLARE v_existing_order BIGINT DEFAULT NULL;
    DECLARE v_status VARCHAR(20) DEFAULT NULL;
    DECLARE v_version INT;
    DECLARE v_currency CHAR(3);
    DECLARE v_total BIGINT;
    DECLARE v_paid BIGINT;
    DECLARE v_refunded BIGINT;
    DECLARE v_payment_ref VARCHAR(128);
    DECLARE v_checkout_id VARCHAR(128);
    DECLARE v_count INT;
    DECLARE v_i INT DEFAULT 0;
    DECLARE v_line INT;
    DECLARE v_qty INT;
    DECLARE v_shipped INT;
    DECLARE v_price BIGINT;
    DECLARE v_value BIGINT DEFAULT 0;
    DECLARE v_left BIGINT;
    DECLARE v_refund BIGINT;
    DECLARE v_new_status VARCHAR(20);
    DECLARE v_return_id BIGINT;
    DECLARE v_key VARCHAR(200);

    SET v_existing_order = (SELECT order_id FROM order_returns WHERE request_key = p_request_key COLLATE utf8mb4_unicode_ci);
    IF v_existing_order IS NOT NULL THEN
        IF v_existing_order <> p_order_id THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'INVALID_ARGUMENT: request_key was used for another order';
        END IF;
        LEAVE proc;
    END IF;

    SELECT status, version, currency, total_minor, paid_minor, refunded_minor, payment_reference, checkout_id
        INTO v_status, v_version, v_currency, v_total, v_paid, v_refunded, v_payment_ref, v_checkout_id
        FROM orders WHERE id = p_order_id;
    IF v_status IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'NOT_FOUND: no such order';
    END IF;
    IF v_status NOT IN ('partially_shipped', 'shipped', 'delivered', 'partially_returned') THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'FAILED_PRECONDITION: the order has no returnable units in its status';
    END IF;
    IF p_lines IS NULL OR JSON_VALID(p_lines) = 0 OR JSON_TYPE(p_lines) <> 'ARRAY' OR JSON_LENGTH(p_lines) = 0 THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'INVALID_ARGUMENT: lines must be a non-empty JSON array';
    END IF;

    -- Serialise returns of this order through its version before touching lines.
    UPDATE orders SET version = version + 1, updated_at = p_now WHERE id = p_order_id AND version = v_version;
    IF ROW_COUNT() = 0 THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ABORTED: the order changed concurrently';
    END IF;

    INSERT INTO order_returns (order_id, request_key, currency, refund_minor, reason, created_at)
        VALUES (p_order_id, p_request_key, v_currency, 0, COALESCE(p_reason, ''), p_now);
    SET v_return_id = LAST_INSERT_ID();

    SET v_count = JSON_LENGTH(p_lines);
    WHILE v_i < v_count DO
        SET v_line = CAST(JSON_UNQUOTE(JSON_EXTRACT(p_lines, CONCAT('$[', v_i, '].line_no'))) AS SIGNED);
        SET v_qty = CAST(JSON_UNQUOTE(JSON_EXTRACT(p_lines, CONCAT('$[', v_i, '].quantity'))) AS SIGNED);
        IF v_line IS NULL OR v_qty IS NULL OR v_qty <= 0 THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'INVALID_ARGUMENT: every line needs line_no and a positive quantity';
        END IF;
        SET v_shipped = NULL;
        SELECT shipped_qty, unit_price_minor INTO v_shipped, v_price
            FROM order_items WHERE order_id = p_order_id AND line_no = v_line;
        IF v_shipped IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'INVALID_ARGUMENT: lines names a line the order does not have';
        END IF;
        UPDATE order_items SET returned_qty = returned_qty + v_qty
            WHERE order_id = p_order_id AND line_no = v_line AND returned_qty + v_qty <= shipped_qty;
        IF ROW_COUNT() = 0 THEN
            SIGNAL SQLSTATE '45000'
                SET MESSAGE_TEXT = 'FAILED_PRECONDITION: return quantity exceeds shipped minus already returned';
        END IF;
        INSERT INTO order_return_lines (return_id, line_no, sku, quantity, value_minor)
            SELECT v_return_id, line_no, sku, v_qty, v_qty * unit_price_minor
            FROM order_items WHERE order_id = p_order_id AND line_no = v_line;
        SET v_value = v_value + v_qty * v_price;
        SET v_i = v_i + 1;
    END WHILE;

    -- Pro rata share of what was paid; the last return refunds the remainder, never more than paid.
    SET v_left = (SELECT SUM(quantity - returned_qty) FROM order_items WHERE order_id = p_order_id);
    IF v_left = 0 THEN
        SET v_refund = v_paid - v_refunded;
        SET v_new_status = 'returned';
    ELSE
        IF v_total = 0 THEN
            SET v_refund = 0;
        ELSE
            SET v_refund = CAST((CAST(v_value AS DECIMAL(38, 0)) * v_paid) DIV v_total AS SIGNED);
        END IF;
        SET v_new_status = 'partially_returned';
    END IF;
    SET v_refund = GREATEST(0, LEAST(v_refund, v_paid - v_refunded));

    UPDATE order_returns SET refund_minor = v_refund WHERE id = v_return_id;
    UPDATE orders SET status = v_new_status, refunded_minor = refunded_minor + v_refund WHERE id = p_order_id;
    INSERT INTO order_events (order_id, seq, event, from_status, to_status, detail, created_at)
        VALUES (p_order_id, v_version + 1, 'return', v_status, v_new_status,
            JSON_OBJECT('return_id', v_return_id, 'request_key', p_request_key, 'refund_minor', v_refund,
                'reason', COALESCE(p_reason, '')),
            p_now);

    SET v_key = CONCAT('oms-orders:return:', p_order_id, ':', v_return_id);
    IF v_refund > 0 THEN
        INSERT INTO order_outbox (kind, dedupe_key, order_id, payload, created_at)
            VALUES ('refund', CONCAT('refund:', v_key), p_order_id,
                JSON_OBJECT('idempotency_key', v_key, 'order_id', p_order_id, 'return_id', v_return_id,
                    'checkout_id', v_checkout_id, 'payment_reference', COALESCE(v_payment_ref, ''),
                    'amount_minor', v_refund, 'currency', v_currency),
                p_now);
    END IF;
    INSERT INTO order_outbox (kind, dedupe_key, order_id, payload, created_at)
        VALUES ('restock', CONCAT('restock:', v_key), p_order_id,
            JSON_OBJECT('reference', v_key, 'order_id', p_order_id, 'return_id', v_return_id,
                'lines', (SELECT JSON_ARRAYAGG(JSON_OBJECT('sku', sku, 'quantity', quantity))
                          FROM order_return_lines WHERE return_id = v_return_id)),
            p_now);
END //
DELIMITER ;
