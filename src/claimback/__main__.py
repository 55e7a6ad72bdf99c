from claimback.cli import main

main()
