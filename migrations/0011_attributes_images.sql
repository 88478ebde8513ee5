-- Product attributes (a flat object of key -> string, number or boolean)
-- and images (an array of {url, alt}, in display order). The API checks
-- every rule (model/attributes.c); the database keeps the cheap ones.
-- Constant defaults add the columns without rewriting the table.

ALTER TABLE products
    ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT products_attributes_check CHECK (jsonb_typeof(attributes) = 'object'),
    ADD COLUMN images jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT products_images_check
        CHECK (jsonb_typeof(images) = 'array' AND jsonb_array_length(images) <= 20);
