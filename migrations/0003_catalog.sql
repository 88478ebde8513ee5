-- The catalog: a category tree and products.

CREATE TABLE categories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE
                CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND char_length(slug) <= 100
                       AND slug !~ '^[0-9]+$'),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    parent_id   bigint REFERENCES categories (id) ON DELETE RESTRICT,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM id)
);

CREATE INDEX categories_parent_idx ON categories (parent_id, lower(name), id);
CREATE INDEX categories_name_idx ON categories (lower(name), id);
CREATE INDEX categories_created_idx ON categories (created_at, id);

CREATE TRIGGER categories_touch BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION nexus_touch_updated_at();

CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text NOT NULL CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL
                CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND char_length(slug) <= 100
                       AND slug !~ '^[0-9]+$'),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    price_cents bigint NOT NULL CHECK (price_cents >= 0 AND price_cents <= 9999999999),
    currency    char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    stock       integer NOT NULL CHECK (stock >= 0),
    category_id bigint REFERENCES categories (id) ON DELETE RESTRICT,
    is_active   boolean NOT NULL DEFAULT true,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

-- A soft-deleted product gives up its sku and slug.
CREATE UNIQUE INDEX products_sku_key ON products (sku) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX products_slug_key ON products (slug) WHERE deleted_at IS NULL;

-- One index per sort order, over what the public sees; ties break on id.
CREATE INDEX products_created_idx ON products (created_at, id)
    WHERE is_active AND deleted_at IS NULL;
CREATE INDEX products_price_idx ON products (price_cents, id)
    WHERE is_active AND deleted_at IS NULL;
CREATE INDEX products_name_idx ON products (lower(name), id)
    WHERE is_active AND deleted_at IS NULL;
-- The category filter, in each sort order.
CREATE INDEX products_category_created_idx ON products (category_id, created_at, id)
    WHERE is_active AND deleted_at IS NULL;
CREATE INDEX products_category_price_idx ON products (category_id, price_cents, id)
    WHERE is_active AND deleted_at IS NULL;
-- Word search: every word a substring of the name or the description.
CREATE INDEX products_search_idx ON products
    USING gin ((name || ' ' || description) gin_trgm_ops) WHERE deleted_at IS NULL;

CREATE TRIGGER products_touch BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION nexus_touch_updated_at();
