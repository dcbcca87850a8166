-- pytrue-owned-tables: pytrue_mail_outbox
-- Emails waiting to be delivered (docs/adr/0017): a use case inserts the message in the same
-- transaction as the code it carries, and every worker's sender delivers it after the response
-- (claimed with FOR UPDATE SKIP LOCKED, deleted once delivered). Not a GoTrue table: GoTrue sends
-- inside the request. Only creates a pytrue-owned table, idempotently, so the runner also applies
-- it (untracked) on a schema GoTrue manages (docs/adr/0007).
create table if not exists {{namespace}}.pytrue_mail_outbox (
    id bigint generated always as identity,
    kind text not null,
    payload jsonb not null,
    created_at timestamptz not null,
    next_attempt_at timestamptz not null,
    attempts integer not null default 0,
    last_error text not null default '',
    constraint pytrue_mail_outbox_pkey primary key (id)
);
create index if not exists pytrue_mail_outbox_next_attempt_at_idx on {{namespace}}.pytrue_mail_outbox (next_attempt_at);
alter table {{namespace}}.pytrue_mail_outbox enable row level security;
comment on table {{namespace}}.pytrue_mail_outbox is 'pytrue: emails waiting for delivery (not a GoTrue table).';
