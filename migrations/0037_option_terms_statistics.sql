-- Statistics on the variants' option terms.
--
-- An option filter finds its variants through the GIN index of
-- nexus_option_terms(options) (migration 0012). That index is partial
-- (live active variants), and PostgreSQL does not use a partial index's
-- statistics for estimates: it took every option value for 0.5% of the
-- variants (the default for an array overlap), "Size M" for 2,700 of
-- 556,000 variants where it holds on 67,000. Planned for so few, the
-- facets of an option filter probed the products one by one, for each of
-- their statements. Statistics on the expression itself give the
-- planner each option value's share.
CREATE STATISTICS product_variants_option_terms_stats ON (nexus_option_terms(options))
    FROM product_variants;
ANALYZE product_variants;
