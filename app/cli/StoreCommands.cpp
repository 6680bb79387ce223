// radiolens-cli store check|backup|restore: the local store's health, and its backups.

#include "app/cli/CliSupport.h"
#include "core/domain/JsonWriter.h"
#include "core/store/AuditLog.h"
#include "core/store/StudyStore.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace radiolens::cli {

const char* const kStoreCommandsHelp =
    "  store check|backup|restore\n"
    "                         check the local store, back it up, put a backup back\n";

namespace {

const char* kStoreHelp = R"(usage: radiolens-cli store SUBCOMMAND [--store DB] [options]

The local store (labels, measurements, the study index, the audit log, the model registry).
DB defaults to the application's own store.

Subcommands:
  check [--json]         the file's integrity (SQLite integrity_check), its schema version and
                         the audit log's hash chain; exit 1 naming what is wrong
  backup --to FILE       a consistent copy of the whole store, made while it may be in use,
                         checked before it is put in place
  restore --from FILE    puts a backup back after checking it (intact, a Radiolens store this
                         version reads, its audit log verifies); what the store held before is
                         first saved beside it as DB.before-restore-DATE-TIME

Every change the application makes is committed before it is acknowledged, and a store is
checked when it is opened: a damaged file or an audit log that does not verify is refused with
the reason, and nothing is written to it.
)";

int storeCheck(const std::vector<std::string>& argv) {
    const std::string command = "store check";
    const Arguments args = parse(command, argv, {"--json"}, {"--store"});
    checkArguments(command, args, {});
    const std::string path = args.get("--store", StudyStore::defaultPath());
    std::string integrity;
    int schema = 0;
    AuditVerification audit;
    std::string openError;
    try {
        StudyStore store(path, StudyStore::OpenCheck::SkipAudit);
        integrity = store.integrityCheck();
        schema = store.schemaVersion();
        audit = AuditLog(store).verify();
    } catch (const std::exception& e) {
        openError = e.what();
    }
    const bool ok = openError.empty() && integrity == "ok" && audit.ok;
    if (args.has("--json")) {
        JsonWriter json(std::cout);
        json.beginObject().field("store", path).field("ok", ok);
        if (!openError.empty()) {
            json.field("error", openError);
        } else {
            json.field("integrity", integrity)
                .field("schemaVersion", schema)
                .field("auditEntries", audit.entries)
                .field("auditOk", audit.ok)
                .field("auditReason", audit.reason)
                .field("auditHead", audit.headHash);
        }
        json.endObject();
        std::cout << "\n";
        return ok ? 0 : 1;
    }
    if (!openError.empty()) {
        throw CliError{command + ": " + openError};
    }
    if (!ok) {
        throw CliError{command + ": " + path + ": " +
                       (integrity != "ok" ? "the file is damaged: " + integrity
                                          : "the audit log does not verify: " + audit.reason) +
                       "; 'radiolens-cli store restore --from BACKUP' puts a backup back"};
    }
    std::printf("%s: intact (schema %d); audit log of %zu entries verifies, head %s\n",
                path.c_str(), schema, audit.entries,
                audit.headHash.empty() ? "(empty)" : audit.headHash.c_str());
    return 0;
}

int storeBackup(const std::vector<std::string>& argv) {
    const std::string command = "store backup";
    const Arguments args = parse(command, argv, {}, {"--store", "--to"});
    checkArguments(command, args, {"--to"});
    try {
        StudyStore store(args.get("--store", StudyStore::defaultPath()));
        store.backupTo(args.get("--to"));
        std::printf("backed up %s to %s\n", store.path().c_str(), args.get("--to").c_str());
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    return 0;
}

int storeRestore(const std::vector<std::string>& argv) {
    const std::string command = "store restore";
    const Arguments args = parse(command, argv, {}, {"--store", "--from"});
    checkArguments(command, args, {"--from"});
    const std::string path = args.get("--store", StudyStore::defaultPath());
    try {
        const std::string before = StudyStore::restore(args.get("--from"), path);
        std::printf("restored %s from %s; what it held before is in %s\n", path.c_str(),
                    args.get("--from").c_str(), before.c_str());
    } catch (const std::exception& e) {
        throw CliError{command + ": " + e.what()};
    }
    return 0;
}

} // namespace

int runStore(const std::vector<std::string>& argv) {
    if (argv.empty() || argv.front() == "--help" || argv.front() == "-h") {
        std::cout << kStoreHelp;
        return argv.empty() ? 2 : 0;
    }
    const std::vector<std::string> rest(argv.begin() + 1, argv.end());
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
        std::cout << kStoreHelp;
        return 0;
    }
    if (argv.front() == "check") {
        return storeCheck(rest);
    }
    if (argv.front() == "backup") {
        return storeBackup(rest);
    }
    if (argv.front() == "restore") {
        return storeRestore(rest);
    }
    usageError("store", "unknown subcommand '" + argv.front() + "' (check, backup or restore)");
}

} // namespace radiolens::cli
