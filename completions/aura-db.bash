_aura_db_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _AURA_DB_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _aura_db_completion aura-db
