-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: shop
-- ------------------------------------------------------

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;

DROP TABLE IF EXISTS `customer`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
CREATE TABLE `customer` (
  `id` int NOT NULL AUTO_INCREMENT,
  `name` varchar(80) NOT NULL COMMENT 'as printed on invoices',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `customer` WRITE;
/*!40000 ALTER TABLE `customer` DISABLE KEYS */;
INSERT INTO `customer` VALUES (1,'Ann; \'the\' first'),(2,'Bob # not a comment');
/*!40000 ALTER TABLE `customer` ENABLE KEYS */;
UNLOCK TABLES;

DROP TABLE IF EXISTS `order line`;
CREATE TABLE `order line` (
  `order_id` int NOT NULL,
  `line_no` int NOT NULL,
  `customer_id` int NOT NULL,
  PRIMARY KEY (`order_id`,`line_no`),
  KEY `fk_customer` (`customer_id`),
  CONSTRAINT `fk_customer` FOREIGN KEY (`customer_id`) REFERENCES `customer` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `line_check` BEFORE INSERT ON `order line` FOR EACH ROW BEGIN
  IF NEW.line_no < 1 THEN SET NEW.line_no = 1; END IF;
END */;;
DELIMITER ;

DELIMITER ;;
CREATE DEFINER=`root`@`localhost` PROCEDURE `add_line`(IN o INT)
BEGIN
  INSERT INTO `order line` VALUES (o, 1, 1);
  SELECT 'done;';
END ;;
DELIMITER ;
# Dump of table shipment
CREATE TABLE `shipment` (
  `id` int NOT NULL,
  `order_id` int NOT NULL,
  `line_no` int NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
ALTER TABLE `shipment` ADD CONSTRAINT `fk_line` FOREIGN KEY (`order_id`, `line_no`) REFERENCES `order line` (`order_id`, `line_no`);
source more_data.sql;
-- Dump completed on 2024-05-01 10:00:00
