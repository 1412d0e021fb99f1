package orchestrator.neo4j;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * A Neo4j community server with its Bolt connector on loopback.
 *
 * <p>Usage: {@code Launcher <port> <home directory>}, with the password of user
 * {@code neo4j} in the environment variable {@code NEO4J_PASSWORD} (not on the command
 * line, where every user of the machine could read it). Prints {@code ready bolt://...}
 * once clients may connect. Stops on SIGTERM or when stdin closes, so a parent that dies
 * without cleaning up does not leave a server behind.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: Launcher <port> <home directory>");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path home = Path.of(args[1]).toAbsolutePath();
        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            System.err.println("NEO4J_PASSWORD must be set, at least 8 characters long");
            System.exit(2);
        }

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                // Tests try wrong passwords on purpose; the default lock-out would then
                // refuse the right one for a while.
                .setConfig(GraphDatabaseSettings.auth_max_failed_attempts, 0)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
                // Bolt waits 5 s for connections, then 5 s for its threads, before it
                // stops; the stores are already closed by then, so a test session need
                // not wait 10 s more.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time,
                        Duration.ofMillis(500))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time,
                        Duration.ofMillis(500))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown, "neo4j-shutdown"));

        // Embedded code runs with full rights, so it can set the password a server
        // would otherwise ask for on first login.
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            // A restart on the same data directory: the password is already this one.
            // Anything else is fatal, and must end the JVM: Neo4j's own threads would
            // otherwise keep it alive without a Bolt server anyone can log in to.
            String message = String.valueOf(e.getMessage());
            if (!message.contains("cannot be the same")) {
                e.printStackTrace();
                System.exit(1);
            }
        }

        System.out.println("ready bolt://127.0.0.1:" + port);
        System.out.flush();

        // Block until the parent closes our stdin (or dies); SIGTERM ends the JVM
        // through the shutdown hook meanwhile.
        while (System.in.read() != -1) {
            // input is ignored
        }
        System.exit(0);
    }
}
