"""What MySQL/MariaDB can and cannot do, as aura-db relies on it."""

from aura_db.engines.base import Features


class MysqlFeatures(Features):
    # DDL commits as it goes: a failed migration leaves what ran before it.
    transactional_ddl = False
    create_index_if_not_exists = False
