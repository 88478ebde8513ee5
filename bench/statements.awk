# Used by bench/misses.sh: reads PostgreSQL log lines (log_statement=all)
# and writes the statements as a pgbench script to SQL, each parameter $N
# of statement K as the variable qK_N, and their values (NAME=VALUE, one a
# line) to VARS. SET statements are left out; a colon in the time format
# becomes chr(58), which pgbench would take for a variable.
function flush() {
    if (stmt == "") return
    out = ""; s = stmt
    while (match(s, /\$[0-9]+/)) {
        out = out substr(s, 1, RSTART - 1) ":q" n "_" substr(s, RSTART + 1, RLENGTH - 1)
        s = substr(s, RSTART + RLENGTH)
    }
    out = out s
    gsub(/HH24:MI:SS/, "HH24' || chr(58) || 'MI' || chr(58) || 'SS", out)
    print out ";" > SQL
    stmt = ""
}
/ LOG:  execute [^:]*: / {
    flush()
    sub(/.* LOG:  execute [^:]*: /, "")
    if ($0 ~ /^SET /) next
    n++; stmt = $0; next
}
/ DETAIL:  parameters: / && stmt != "" {
    s = $0; sub(/.* DETAIL:  parameters: /, "", s)
    while (match(s, /^\$[0-9]+ = /)) {
        k = substr(s, 2, RLENGTH - 4); s = substr(s, RLENGTH + 1)
        if (substr(s, 1, 4) == "NULL") { v = ""; s = substr(s, 5) }
        else {
            v = ""; s = substr(s, 2)
            while (1) {
                i = index(s, "'")
                v = v substr(s, 1, i - 1); s = substr(s, i + 1)
                if (substr(s, 1, 1) == "'") { v = v "'"; s = substr(s, 2) } else break
            }
        }
        print "q" n "_" k "=" v > VARS
        sub(/^, /, "", s)
    }
}
END { flush() }
