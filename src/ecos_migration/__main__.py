from ecos_migration.cli import main

main()
