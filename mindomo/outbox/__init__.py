"""The outbox: every email the product sends is a pending delivery written in the transaction that causes it,
sent by one retrying Celery task (``tasks.delivery_send_task``) and marked sent once the server accepted it."""
