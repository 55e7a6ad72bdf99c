from claimback.entry import main

main()
